"""Exhaustive check (not a ctest: it needs Python): every assigned code point up to U+2FFFF, in
letter, space, digit, newline and contraction contexts, encoded by `duogen tokenize` and by HF
`tokenizers`; prints the code points whose ids differ.

    .venv/bin/python tools/reference/check_tokenizer_codepoints.py [--tokenizer DIR] [--duogen build/duogen]
"""

import argparse
import json
import pathlib
import subprocess
import sys
import unicodedata

from tokenizers import Tokenizer

ROOT = pathlib.Path(__file__).resolve().parents[2]


def contexts(c):
    return f"a{c}b {c}{c}1{c}\n{c} 'S{c}"


def duogen_ids(binary, tokenizer_dir, texts):
    stdin = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    out = subprocess.run([binary, "tokenize", "--tokenizer", tokenizer_dir], input=stdin,
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line)["ids"] for line in out.splitlines()]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", default=str(ROOT.parent / "shared/models/qwen2-tokenizer"))
    parser.add_argument("--duogen", default=str(ROOT / "build/duogen"))
    args = parser.parse_args()
    hf = Tokenizer.from_file(str(pathlib.Path(args.tokenizer) / "tokenizer.json"))
    cps = [cp for cp in range(0x20, 0x30000) if unicodedata.category(chr(cp)) not in ("Cn", "Co", "Cs")]
    chunks = [cps[i:i + 50] for i in range(0, len(cps), 50)]
    texts = ["".join(contexts(chr(c)) for c in chunk) for chunk in chunks]
    suspects = [c for chunk, text, ids in zip(chunks, texts, duogen_ids(args.duogen, args.tokenizer, texts))
                if ids != hf.encode(text).ids for c in chunk]
    singles = [contexts(chr(c)) for c in suspects]
    bad = [c for c, text, ids in zip(suspects, singles, duogen_ids(args.duogen, args.tokenizer, singles))
           if ids != hf.encode(text).ids]
    print(f"{len(cps)} code points (Unicode {unicodedata.unidata_version}), {len(bad)} differ")
    for c in bad[:100]:
        print(f"  U+{c:04X} {unicodedata.category(chr(c))} {unicodedata.name(chr(c), '?')}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
