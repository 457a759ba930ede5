#!/usr/bin/env python3
"""A minimal SMTP sink for the tests (standard library only).

    python3 tests/smtp_sink.py PORT DIR

Accepts every message on 127.0.0.1:PORT and writes each to DIR/<n>.eml,
preceded by one `X-Envelope-To:` line per recipient. Prints `ready` once
listening.
"""
import os
import socket
import sys
import threading
import time


def serve(conn, out):
    f = conn.makefile("rwb")

    def reply(text):
        f.write((text + "\r\n").encode())
        f.flush()

    reply("220 gwx-test-sink ESMTP")
    recipients = []
    while True:
        line = f.readline()
        if not line:
            break
        command = line.decode("utf-8", "replace").strip()
        verb = command.upper()
        if verb.startswith("EHLO") or verb.startswith("HELO"):
            reply("250 gwx-test-sink")
        elif verb.startswith("MAIL FROM"):
            recipients = []
            reply("250 OK")
        elif verb.startswith("RCPT TO"):
            recipients.append(command.split(":", 1)[1].strip().strip("<>"))
            reply("250 OK")
        elif verb == "DATA":
            reply("354 end with <CRLF>.<CRLF>")
            lines = []
            while True:
                data = f.readline()
                if data in (b".\r\n", b".\n", b""):
                    break
                lines.append(data[1:] if data.startswith(b"..") else data)
            name = os.path.join(out, "%d.eml" % time.time_ns())
            with open(name + ".tmp", "wb") as m:
                for r in recipients:
                    m.write(("X-Envelope-To: %s\r\n" % r).encode())
                m.write(b"".join(lines))
            os.rename(name + ".tmp", name)
            reply("250 queued")
        elif verb == "QUIT":
            reply("221 bye")
            break
        else:
            reply("250 OK")
    conn.close()


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen()
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn, out), daemon=True).start()


if __name__ == "__main__":
    main()
