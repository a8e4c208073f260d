#!/usr/bin/env python3
"""Dumps transformers' logits processors on random logits, for the token sampler's parity test:

    .venv/bin/python tools/reference/dump_logits_processors.py OUT.safetensors

Tensors (R rows, vocabulary V; every row is processed on its own, as a batch of 1):
  logits [R, V] F32, context [R, C] I64 (the ids seen so far, with repeats)
  bias.ids [K] I64, bias.values [K] F32 (SequenceBiasLogitsProcessor with single-token sequences)
  <case> [R, V] F32 for each single processor case below, and `chain` for all of them in the order
  transformers' own `_get_logits_processor` builds them from a GenerationConfig (checked here);
  chain.sample.<seed> [R] I64: torch.multinomial(softmax(chain), 1) after torch.manual_seed(seed).
"""
import argparse
import pathlib

import safetensors.torch
import torch
import transformers
from transformers import GenerationConfig, LogitsProcessorList
from transformers.generation import logits_process as lp

R, V, C = 3, 96, 12
BIAS = {3: 2.5, 7: -1.0, 60: 4.0}
CHAIN = dict(do_sample=True, temperature=0.8, top_k=20, top_p=0.9, min_p=0.05, repetition_penalty=1.2)
SEEDS = [0, 1, 2, 3]


def cases():
    return {
        "bias": lp.SequenceBiasLogitsProcessor(sequence_bias={(k,): v for k, v in BIAS.items()}),
        "repetition_penalty_1.3": lp.RepetitionPenaltyLogitsProcessor(1.3),
        "repetition_penalty_0.7": lp.RepetitionPenaltyLogitsProcessor(0.7),
        "temperature_0.7": lp.TemperatureLogitsWarper(0.7),
        "top_k_5": lp.TopKLogitsWarper(5),
        "top_p_0.8": lp.TopPLogitsWarper(0.8),
        "min_p_0.1": lp.MinPLogitsWarper(0.1),
    }


def chain_processors():
    """The list generate() would build, taken from transformers itself so that the order is its."""
    config = GenerationConfig(**CHAIN, sequence_bias={(k,): v for k, v in BIAS.items()})
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=1, n_head=1, n_embd=8, vocab_size=V, bos_token_id=0, eos_token_id=0))
    procs = model._get_logits_processor(generation_config=config, input_ids_seq_length=C,
                                        encoder_input_ids=torch.zeros(1, C, dtype=torch.long),
                                        prefix_allowed_tokens_fn=None, logits_processor=LogitsProcessorList())
    names = [type(p).__name__ for p in procs]
    assert names == ["SequenceBiasLogitsProcessor", "RepetitionPenaltyLogitsProcessor", "TemperatureLogitsWarper",
                     "TopKLogitsWarper", "TopPLogitsWarper", "MinPLogitsWarper"], names
    return procs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=pathlib.Path)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(R, V, generator=g) * 3
    logits[1, 10] = logits[1, 11] = logits[1].max() + 1  # a tie at the top
    context = torch.randint(0, V, (R, C), generator=g)
    out = {"logits": logits, "context": context,
           "bias.ids": torch.tensor(list(BIAS), dtype=torch.long),
           "bias.values": torch.tensor(list(BIAS.values()), dtype=torch.float32)}
    run = lambda proc, r: proc(context[r:r + 1].clone(), logits[r:r + 1].clone())[0]
    for name, proc in cases().items():
        out[name] = torch.stack([run(proc, r) for r in range(R)])
    procs = chain_processors()
    out["chain"] = torch.stack([run(procs, r) for r in range(R)])
    for seed in SEEDS:
        torch.manual_seed(seed)
        out[f"chain.sample.{seed}"] = torch.stack(
            [torch.multinomial(out["chain"][r].softmax(-1), 1)[0] for r in range(R)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file({k: v.contiguous() for k, v in out.items()}, str(args.out),
                                metadata={"producer": f"transformers {transformers.__version__}, torch {torch.__version__}",
                                          "chain": repr(CHAIN)})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
