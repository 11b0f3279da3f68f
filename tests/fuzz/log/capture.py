#!/usr/bin/python3
"""capture.py: record Kafka request frames for the fuzz seed corpus.

    capture.py LISTEN_PORT BROKER_HOST:PORT OUTDIR

A one-connection-at-a-time TCP proxy: every request frame a client sends
(without its 4-byte size) is written to OUTDIR/<api>-v<ver>-<n>.bin and
forwarded to the broker; answers are relayed unchanged.  Point kcat,
librdkafka or kafka-python at LISTEN_PORT (their Metadata answers name the
real broker, so start the broker with --advertise 127.0.0.1:LISTEN_PORT).
Used once to make corpus_request/; kept so the corpus can be regenerated.
"""
import os
import socket
import struct
import sys
import threading


def pipe(src, dst, out, record):
    buf = b''
    n = 0
    try:
        while True:
            d = src.recv(65536)
            if not d:
                break
            dst.sendall(d)
            if not record:
                continue
            buf += d
            while len(buf) >= 4:
                ln = struct.unpack('>i', buf[:4])[0]
                if len(buf) < 4 + ln:
                    break
                frame = buf[4:4 + ln]
                buf = buf[4 + ln:]
                key, ver = struct.unpack('>hh', frame[:4])
                n += 1
                name = '%02d-v%d-%d-%d.bin' % (key, ver, os.getpid(), id(src) % 100000 + n)
                with open(os.path.join(out, name), 'wb') as f:
                    f.write(frame)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def main():
    port, target, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    host, tport = target.rsplit(':', 1)
    os.makedirs(out, exist_ok=True)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', port))
    ls.listen(16)
    while True:
        c, _ = ls.accept()
        b = socket.create_connection((host, int(tport)))
        threading.Thread(target=pipe, args=(c, b, out, True), daemon=True).start()
        threading.Thread(target=pipe, args=(b, c, out, False), daemon=True).start()


if __name__ == '__main__':
    main()
