#!/usr/bin/env python3
"""kafka_interop.py: RecordBatch v2 interoperability of the log store with
a real Kafka client library (kafka-python, Debian python3-kafka).

kafka-python builds batches (uncompressed with keys, null keys and headers;
gzip, lz4 (LZ4 frames) and zstd compressed, the last two when
python3-lz4 / python3-zstandard are installed; idempotent producer
fields); the C helper (test_logstore_interop) validates them with the
store's CRC-32C and record checks (decompressing the compressed ones),
appends them, checks record-exact ListOffsets, reads them back and writes
what it read; kafka-python then parses that output, checks its CRC-32C and
that every record is intact with the offsets the store assigned.  Skips
(77) without python3-kafka.
"""
import os
import subprocess
import sys
import tempfile

try:
    from kafka.record.default_records import (DefaultRecordBatch,
                                              DefaultRecordBatchBuilder)
    from kafka.codec import has_lz4, has_zstd
except ImportError:
    print("python3-kafka missing: skipped")
    sys.exit(77)

# none, gzip, lz4, zstd (codec ids of the batch attributes)
CODECS = [0, 1] + ([3] if has_lz4() else []) + ([4] if has_zstd() else [])


def build(codec, pid, epoch, seq, n, ts0, with_keys):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec,
                                  is_transactional=0, producer_id=pid,
                                  producer_epoch=epoch, base_sequence=seq,
                                  batch_size=1 << 20)
    recs = []
    for i in range(n):
        key = (b"key-%d" % i) if with_keys and i % 3 else None
        val = (b"value-%d-" % i) * (1 + i % 7)
        hdrs = [("h%d" % i, b"hv")] if i % 2 else []
        b.append(i, timestamp=ts0 + i, key=key, value=val, headers=hdrs)
        recs.append((ts0 + i, key, val, hdrs))
    return bytes(b.build()), recs


def main():
    exe = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        inp = os.path.join(d, "in")
        out = os.path.join(d, "out")
        os.mkdir(inp)
        os.mkdir(out)
        cases = []
        seq = 0
        for k in range(16):
            codec = CODECS[k % len(CODECS)]
            n = 1 + (k * 5) % 17
            if codec:
                n += 4      # enough records that compression pays off
            pid, epoch = (42, 0) if k >= 6 else (-1, -1)
            s = seq if pid >= 0 else -1
            data, recs = build(codec, pid, epoch, s, n,
                               1700000000000 + 1000 * k, k % 2 == 0)
            if pid >= 0:
                seq += n
            if data[22] & 7 != codec:
                print("batch %d: kafka-python did not compress with %d"
                      % (k, codec))
                return 1
            with open(os.path.join(inp, "%03d" % k), "wb") as f:
                f.write(data)
            cases.append(recs)
        r = subprocess.run([exe, inp, out, os.path.join(d, "store")])
        if r.returncode != 0:
            print("C helper failed: %d" % r.returncode)
            return 1
        offset = 0
        for k, recs in enumerate(cases):
            with open(os.path.join(out, "%03d" % k), "rb") as f:
                data = f.read()
            batch = DefaultRecordBatch(data)
            if not batch.validate_crc():
                print("batch %d: CRC-32C rejected by kafka-python" % k)
                return 1
            if batch.base_offset != offset:
                print("batch %d: base offset %d, want %d"
                      % (k, batch.base_offset, offset))
                return 1
            got = list(batch)
            if len(got) != len(recs):
                print("batch %d: %d records, want %d" % (k, len(got), len(recs)))
                return 1
            for i, (rec, (ts, key, val, hdrs)) in enumerate(zip(got, recs)):
                if (rec.offset != offset + i or rec.timestamp != ts
                        or rec.key != key or rec.value != val
                        or list(rec.headers) != hdrs):
                    print("batch %d record %d differs" % (k, i))
                    return 1
            offset += len(recs)
        print("interop: %d kafka-python batches (codecs %s) stored and read "
              "back intact" % (len(cases), CODECS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
