#!/usr/bin/env python3
"""Writes the malformed-checkpoint corpus in tests/data/malformed/ (plain Python, no torch).

Every case is a small file or directory that the reader must reject with a duogen::Error whose
message names the file at fault (and the tensor, where one is). The expectations live beside the
bytes in cases.json, which tests/io/malformed_test.cpp and tests/cli/cli_test.cpp read, and in a
generated README.md for people.

    python3 tools/reference/make_malformed_safetensors.py [OUT_DIR]
"""

import json
import shutil
import struct
import sys
from pathlib import Path

MAX_HEADER = 100_000_000  # kMaxSafetensorsHeaderBytes in src/io/safetensors.h
INDEX = "model.safetensors.index.json"


def raw(header_len, header_bytes=b"", data=b""):
    """A file with an explicit 8-byte little-endian header length."""
    return struct.pack("<Q", header_len) + header_bytes + data


def with_text(header_text, data=b""):
    """A file whose header is the given JSON text (bytes or str), length correct."""
    if isinstance(header_text, str):
        header_text = header_text.encode()
    return raw(len(header_text), header_text, data)


def with_header(header, data=b""):
    return with_text(json.dumps(header, separators=(",", ":")), data)


def entry(dtype="F32", shape=(1,), offsets=(0, 4)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def valid(names_and_counts):
    """A well-formed file of F32 tensors given as (name, numel) pairs, values 0, 1, 2, ..."""
    header, offset = {}, 0
    for name, numel in names_and_counts:
        header[name] = entry(shape=(numel,), offsets=(offset, offset + 4 * numel))
        offset += 4 * numel
    total = sum(n for _, n in names_and_counts)
    return with_header(header, struct.pack(f"<{total}f", *range(total)))


def index(weight_map):
    return json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}).encode()


# name -> (contents, error type, message fragment, extra names the message must hold)
# Files hold bytes; directories hold {file name: bytes}. The message must always name the file
# at fault: the case itself for a file, `at_fault` inside a directory.
FILE_CASES = [
    ("empty", b"", "FormatError", "truncated: 0 bytes", []),
    ("five_bytes", b"\x10\x00\x00\x00\x00", "FormatError", "truncated: 5 bytes", []),
    ("header_len_2p63", raw(1 << 63, b"{}"), "FormatError", f"{1 << 63} exceeds", []),
    ("header_len_2p40", raw(1 << 40, b"{}"), "FormatError", f"{1 << 40} exceeds", []),
    ("header_len_over_limit", raw(MAX_HEADER + 1, b"{}"), "FormatError",
     f"{MAX_HEADER + 1} exceeds", []),
    ("header_len_past_end", raw(1000, b'{"a":1}'), "FormatError",
     "header length 1000 but only 7 bytes follow", []),
    ("header_len_one", raw(1, b"{"), "FormatError", "too short", []),
    ("header_not_json", with_text('{"w": {"dtype": '), "FormatError", "not valid JSON", []),
    ("header_trailing_garbage", with_text("{} x"), "FormatError", "not valid JSON", []),
    ("header_not_object", with_text("[1, 2, 3]"), "FormatError", "must be a JSON object", []),
    ("header_invalid_utf8",
     with_text(b'{"w\xff": {"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\x00"),
     "FormatError", "not valid UTF-8", []),
    ("entry_not_object", with_header({"w": [1, 2]}), "FormatError", "entry must be an object",
     ["'w'"]),
    ("unknown_dtype", with_header({"w": entry(dtype="F4")}, b"\0" * 4), "FormatError",
     "unsupported dtype 'F4'", ["'w'"]),
    ("lowercase_dtype", with_header({"w": entry(dtype="f32")}, b"\0" * 4), "FormatError",
     "unsupported dtype 'f32'", ["'w'"]),
    ("missing_dtype", with_header({"w": {"shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
     "FormatError", "missing or non-string 'dtype'", ["'w'"]),
    ("non_string_dtype", with_header({"w": entry(dtype=32)}, b"\0" * 4), "FormatError",
     "missing or non-string 'dtype'", ["'w'"]),
    ("missing_shape", with_header({"w": {"dtype": "F32", "data_offsets": [0, 4]}}, b"\0" * 4),
     "FormatError", "missing or non-array 'shape'", ["'w'"]),
    ("missing_data_offsets", with_header({"w": {"dtype": "F32", "shape": [1]}}, b"\0" * 4),
     "FormatError", "'data_offsets' must be an array", ["'w'"]),
    ("data_offsets_three", with_header({"w": entry(offsets=(0, 4, 8))}, b"\0" * 4),
     "FormatError", "'data_offsets' must be an array", ["'w'"]),
    ("negative_shape", with_header({"w": entry(shape=(2, -1))}, b"\0" * 4), "FormatError",
     "shape entries must be non-negative integers, got -1", ["'w'"]),
    ("float_shape", with_text('{"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}',
                              b"\0" * 4),
     "FormatError", "shape entries must be non-negative integers, got 1.0", ["'w'"]),
    ("negative_offset", with_header({"w": entry(offsets=(-4, 0))}, b"\0" * 4), "FormatError",
     "data_offsets must be non-negative integers, got -4", ["'w'"]),
    ("shape_dim_too_large", with_header({"w": entry(dtype="U8", shape=(1 << 63,))}, b"\0"),
     "FormatError", "overflows", ["'w'"]),
    ("shape_product_overflow", with_header({"w": entry(shape=(1 << 32, 1 << 32, 1 << 32))}),
     "FormatError", "overflows", ["'w'"]),
    ("shape_bytes_overflow", with_header({"w": entry(dtype="F64", shape=(1 << 31, 1 << 31))}),
     "FormatError", "overflows", ["'w'"]),
    # Zero elements, so no bytes, but ATen's strides (products of the other dims) overflow.
    ("zero_dim_with_huge_dims",
     with_header({"w": entry(shape=(0, 1 << 62, 1 << 62), offsets=(0, 0))}), "FormatError",
     "overflows", ["'w'"]),
    ("size_mismatch", with_header({"w": entry(shape=(2, 2), offsets=(0, 12))}, b"\0" * 12),
     "FormatError", "holds 12 bytes but F32 [2,2] needs 16", ["'w'"]),
    ("offsets_past_end", with_header({"w": entry(shape=(4,), offsets=(0, 16))}, b"\0" * 8),
     "FormatError", "past the end of the file", ["'w'"]),
    ("huge_offsets", with_header({"w": entry(shape=(1,), offsets=((1 << 64) - 4, (1 << 64)))}),
     "FormatError", "non-negative integers", ["'w'"]),
    ("begin_after_end", with_header({"w": entry(shape=(0,), offsets=(8, 4))}, b"\0" * 8),
     "FormatError", "end before begin", ["'w'"]),
    ("overlapping_tensors",
     with_header({"a": entry(shape=(2,), offsets=(0, 8)), "b": entry(shape=(2,), offsets=(4, 12))},
                 b"\0" * 12),
     "FormatError", "overlaps tensor 'a'", ["'b'"]),
    ("empty_tensor_inside_other",
     with_header({"a": entry(shape=(2,), offsets=(0, 8)), "z": entry(shape=(0,), offsets=(4, 4))},
                 b"\0" * 8),
     "FormatError", "overlaps tensor 'a'", ["'z'"]),
    ("hole_between_tensors",
     with_header({"a": entry(offsets=(0, 4)), "b": entry(offsets=(8, 12))}, b"\0" * 12),
     "FormatError", "leaving a hole after offset 4", ["'b'"]),
    ("hole_at_start", with_header({"a": entry(offsets=(4, 8))}, b"\0" * 8), "FormatError",
     "leaving a hole after offset 0", ["'a'"]),
    ("trailing_bytes", with_header({"a": entry(offsets=(0, 4))}, b"\0" * 8), "FormatError",
     "4 bytes after the last tensor", []),
    ("duplicate_names",
     with_text('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
               '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8),
     "FormatError", "appears more than once", ["'a'"]),
    ("metadata_not_object", with_header({"__metadata__": ["x"]}), "FormatError",
     "'__metadata__' must be an object", []),
    ("metadata_non_string_value", with_header({"__metadata__": {"format": "pt", "step": 3}}),
     "FormatError", "value of 'step' must be a string", []),
]

GOOD_SHARD = valid([("a", 2)])
DIR_CASES = [
    ("sharded_missing_shard",
     {INDEX: index({"a": "model-00001-of-00002.safetensors",
                    "b": "model-00002-of-00002.safetensors"}),
      "model-00001-of-00002.safetensors": GOOD_SHARD},
     "IoError", "does not exist", [INDEX, "model-00002-of-00002.safetensors", "'b'"]),
    ("sharded_tensor_not_in_shard",
     {INDEX: index({"a": "model.safetensors", "b": "model.safetensors"}),
      "model.safetensors": GOOD_SHARD},
     "FormatError", "does not contain it", [INDEX, "'b'", "model.safetensors"]),
    ("sharded_index_not_json", {INDEX: b'{"weight_map": {', "model.safetensors": GOOD_SHARD},
     "FormatError", "not valid JSON", [INDEX]),
    ("sharded_index_not_object", {INDEX: b'["model.safetensors"]', "model.safetensors": GOOD_SHARD},
     "FormatError", "missing 'weight_map'", [INDEX]),
    ("sharded_no_weight_map", {INDEX: b'{"metadata": {}}', "model.safetensors": GOOD_SHARD},
     "FormatError", "missing 'weight_map'", [INDEX]),
    ("sharded_shard_not_string", {INDEX: index({"a": 1}), "model.safetensors": GOOD_SHARD},
     "FormatError", "is not a file name", [INDEX, "'a'"]),
    ("sharded_path_separator", {INDEX: index({"a": "../x.safetensors"}), "x.safetensors": GOOD_SHARD},
     "FormatError", "not a plain file name", [INDEX, "../x.safetensors", "'a'"]),
    ("sharded_parent_dir", {INDEX: index({"a": ".."}), "model.safetensors": GOOD_SHARD},
     "FormatError", "not a plain file name", [INDEX, "'a'"]),
    ("sharded_malformed_shard",
     {INDEX: index({"a": "model.safetensors"}),
      "model.safetensors": with_header({"a": entry(offsets=(0, 4))}, b"\0" * 8)},
     "FormatError", "4 bytes after the last tensor", ["model.safetensors"]),
    ("dir_tensor_in_two_files", {"a.safetensors": GOOD_SHARD, "b.safetensors": GOOD_SHARD},
     "FormatError", "tensor 'a' is also in", ["a.safetensors", "b.safetensors"]),
]


def readme(cases):
    lines = [
        "# Malformed checkpoint corpus",
        "",
        "Generated by `tools/reference/make_malformed_safetensors.py`; do not edit by hand.",
        "Each entry must be rejected by `SafetensorsFile::open` / `Checkpoint::open` (and by",
        "`duogen inspect`, exit code 1) with the error type and a message holding the fragment and",
        "the names listed. The same table, machine-readable, is `cases.json`.",
        "",
        "| entry | error | message contains |",
        "| --- | --- | --- |",
    ]
    for c in cases:
        held = ", ".join(f"`{s}`" for s in [c["fragment"], *c["names"]])
        lines.append(f"| `{c['path']}` | {c['error']} | {held} |")
    return "\n".join(lines) + "\n"


def main():
    root = Path(__file__).resolve().parents[2]
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "tests" / "data" / "malformed"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    cases = []
    for name, contents, error, fragment, names in FILE_CASES:
        path = f"{name}.safetensors"
        (out / path).write_bytes(contents)
        cases.append({"path": path, "kind": "file", "error": error, "fragment": fragment,
                      "names": [path, *names]})
    for name, files, error, fragment, names in DIR_CASES:
        (out / name).mkdir()
        for file_name, contents in files.items():
            (out / name / file_name).write_bytes(contents)
        cases.append({"path": name, "kind": "directory", "error": error, "fragment": fragment,
                      "names": [name, *names]})
    (out / "cases.json").write_text(json.dumps(cases, indent=1) + "\n")
    (out / "README.md").write_text(readme(cases))
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
