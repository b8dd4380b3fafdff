"""Writes Parquet files with pyarrow (an independent writer) and prints, as
one JSON object on stdout, each case's rows as pyarrow reads them back, for
the Go reader to be compared with.

    python pqwrite.py DIR CASE...

writes DIR/CASE.parquet for each case (pyarrow's import is slow: one run
writes them all).

Cases:
  types   every common column type, nulls, lists, a struct; 2 rows per row group
  large   5000 rows, 500 per row group, a large "blob" column
          no job reads (to show projection and streaming); prints only the
          first and last rows and the count
  other   columns id, title, body (no "text")
  badutf8 a binary "text" column holding bytes that are not UTF-8 in row 2

Conventions of the printed values (what the Go source must yield): integers
and floats as JSON numbers (float32 by their shortest float32 repr), strings,
timestamps as RFC 3339 in UTC with "Z", dates as YYYY-MM-DD, binary as text
when it is UTF-8, lists, structs as objects, null.
"""
import datetime
import decimal
import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def plain(v, typ):
    if v is None:
        return None
    if pa.types.is_timestamp(typ):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return v.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".") + "Z"
    if pa.types.is_date(typ):
        return v.isoformat()
    if pa.types.is_float32(typ):
        return float(str(np.float32(v)))
    if pa.types.is_decimal(typ):
        return float(v)
    if pa.types.is_binary(typ):
        return v.decode("utf-8", errors="replace")
    if pa.types.is_list(typ):
        return [plain(e, typ.value_type) for e in v]
    if pa.types.is_struct(typ):
        return {f.name: plain(v.get(f.name), f.type) for f in typ}
    if pa.types.is_dictionary(typ):
        return plain(v, typ.value_type)
    return v


def rows(table):
    out = []
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    for i in range(table.num_rows):
        out.append({f.name: plain(cols[f.name][i], f.type) for f in table.schema})
    return out


def write(case, path):
    n = 5000
    if case == "types":
        ts = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc)
        t = pa.table({
            "id": pa.array([1, 2, 3, 4, 5], pa.int64()),
            "sid": ["a", "b", None, "d", "é"],
            "text": ["hello", "wörld", "x", "日本語のテキスト", "last"],
            "score": pa.array([1.5, None, 2.0, -0.25, 1e-7], pa.float64()),
            "f32": pa.array([0.1, 2, 3.3, None, -1], pa.float32()),
            "flag": [True, False, None, True, False],
            "vec": pa.array([[0.1, 0.2], [0.3], None, [], [1.5, -2.5, 3]], pa.list_(pa.float32())),
            "tags": pa.array([["x", "y"], [], None, ["z"], ["ü"]], pa.list_(pa.string())),
            "ts": pa.array([ts, None, ts, ts, ts], pa.timestamp("us", tz="UTC")),
            "ms": pa.array([ts] * 5, pa.timestamp("ms")),
            "day": pa.array([datetime.date(2024, 1, 2)] * 4 + [None], pa.date32()),
            "dec": pa.array([decimal.Decimal("1.23")] * 5, pa.decimal128(5, 2)),
            "bin": pa.array([b"ok", None, b"bytes", b"", b"z"], pa.binary()),
            "st": pa.array([{"a": 1, "b": "x"}, None, {"a": 2, "b": None}, {"a": 3, "b": "y"}, {"a": 4, "b": "z"}],
                           pa.struct([("a", pa.int32()), ("b", pa.string())])),
            "i8": pa.array([1, -2, 3, 4, 5], pa.int8()),
            "u64": pa.array([1, 2, 2**63 + 5, 4, 5], pa.uint64()),
            "dict": pa.array(["p", "q", "p", None, "r"]).dictionary_encode(),
        })
        pq.write_table(t, path, row_group_size=2)
        return rows(pq.read_table(path))
    elif case == "large":
        rng = np.random.default_rng(7)
        ids = [f"doc-{i:06d}" for i in range(n)]
        text = [f"row {i} of the large file, word{i % 97}" for i in range(n)]
        blob = [rng.bytes(512).hex() for _ in range(n)]
        t = pa.table({"id": ids, "text": text, "blob": blob})
        pq.write_table(t, path, row_group_size=500, compression="snappy", use_dictionary=False)
        r = rows(pq.read_table(path, columns=["id", "text"]))
        return {"count": n, "first": r[0], "last": r[-1]}
    elif case == "other":
        t = pa.table({"id": ["a", "b"], "title": ["A", "B"], "body": ["one", "two"]})
        pq.write_table(t, path)
        return rows(pq.read_table(path))
    elif case == "badutf8":
        t = pa.table({"id": ["a", "b", "c"], "text": pa.array([b"fine", b"bad \xff\xfe here", b"also fine"], pa.binary())})
        pq.write_table(t, path)
        return [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    sys.exit(f"unknown case {case}")


def main():
    out = sys.argv[1]
    json.dump({case: write(case, f"{out}/{case}.parquet") for case in sys.argv[2:]}, sys.stdout)


if __name__ == "__main__":
    main()
