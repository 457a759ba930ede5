#!/usr/bin/env python3
"""Writes the committed seed corpora fuzz/corpus/<target>/ from the test
fixtures and the XML corpus. Run from the repository root after changing
them: python3 fuzz/make-seeds.py"""
import glob
import os
import re
import shutil

OUT = "fuzz/corpus"
BOUNDARY = b"gwx-fuzz-boundary"  # gwx::formats::fuzz::MULTIPART_BOUNDARY


def files(*patterns):
    out = []
    for p in patterns:
        out.extend(sorted(glob.glob(p)))
    return out


def write(target, named):
    d = os.path.join(OUT, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in named:
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def label(path):
    return path.replace("tests/", "").replace("/", "-")


xml_sources = files("tests/corpus/xml/*/*.xml", "tests/fixtures/*/*.di", "tests/fixtures/*/*.sw",
                    "tests/fixtures/*/envelope.xml")
write("xml_reader", [(label(p), read(p)) for p in xml_sources])

doctypes = []
for p in xml_sources:
    m = re.search(rb"<!DOCTYPE(.*?\]?)>\s*<", read(p), re.S)
    if m:
        doctypes.append((label(p), m.group(1)))
doctypes.append(("system-only", ' 函 SYSTEM "104_2_utf8.dtd"'.encode()))
doctypes.append(("public", ' 函 PUBLIC "-//x//y" "104_2_utf8.dtd" [<!NOTATION _X PUBLIC "-//n">]'.encode()))
write("doctype", doctypes)

write("envelope", [(label(p), read(p)) for p in files("tests/corpus/envelope/*/*.xml", "tests/fixtures/*/envelope.xml")])
write("document", [(label(p), read(p)) for p in files("tests/fixtures/*/*.di", "tests/fixtures/*/*/*.di",
                                                       "tests/corpus/xml/unsafe/*.xml")])
sw = [(label(p), read(p)) for p in files("tests/fixtures/*/*.sw", "tests/fixtures/*/*/*.sw")]
head = '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE 交換表單 SYSTEM "104_roster_utf8.dtd">\n'
sw.append(("one-unit", (head + "<交換表單><全銜>教育局</全銜><機關代碼>379030000WU100000</機關代碼>"
                        "<本別><收發處理本別 代碼=\"正本\"/></本別></交換表單>").encode()))
sw.append(("empty", (head + "<交換表單/>").encode()))
sw.append(("no-doctype", "<交換表單><全銜>甲</全銜><機關代碼>379100000G</機關代碼></交換表單>".encode()))
write("roster", sw)


def part(name, filename, body, ctype=b"application/octet-stream"):
    head = b'Content-Disposition: form-data; name="' + name + b'"'
    if filename is not None:
        head += b'; filename="' + filename + b'"'
    return b"--" + BOUNDARY + b"\r\n" + head + b"\r\nContent-Type: " + ctype + b"\r\n\r\n" + body + b"\r\n"


letter = "tests/fixtures/letter"
package = (part(b"envelope", b"envelope.xml", read(f"{letter}/envelope.xml"), b"application/xml")
           + part(b"signature", b"envelope.p7s", b"\x30\x82\x01\x00not really DER")
           + part(b"document", b"1153012345.di", read(f"{letter}/1153012345.di")[:2000], b"application/xml")
           + b"--" + BOUNDARY + b"--\r\n")
write("multipart", [
    ("package", package),
    ("preamble-and-epilogue", b"preamble\r\n" + part(b"a", None, b"x") + b"--" + BOUNDARY + b"--\r\nepilogue"),
    ("utf8-filename", part(b"attachment", "附件一.pdf".encode(), b"%PDF-1.4\n") + b"--" + BOUNDARY + b"--\r\n"),
    ("filename-star", b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"attachment\"; "
     b"filename*=UTF-8''%E9%99%84%E4%BB%B6.pdf\r\n\r\n%PDF\r\n--" + BOUNDARY + b"--\r\n"),
    ("boundary-inside-data", part(b"a", b"a.txt", b"--" + BOUNDARY[:-1] + b" not the end") + b"--" + BOUNDARY + b"--"),
    ("unterminated", part(b"a", b"a.txt", b"no closing boundary")),
    ("padding-after-boundary", b"--" + BOUNDARY + b"  \t\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--"
     + BOUNDARY + b"--"),
])

write("attachment", [(label(p), read(p)[:65536]) for p in files(f"{letter}/*ATTCH*", "tests/fixtures/bad/renamed.pdf")]
      + [("text", "公文內容\n".encode()), ("nul", b"a\x00b"), ("split-utf8", "中".encode()[:2])])
