#!/usr/bin/env python3
"""Writes the XML corpus the hub's reader is checked against (tests/api/corpus.rs).

xml/ok       well-formed XML 1.0 with namespaces: xmllint accepts, the hub reads it
xml/bad      not well-formed (or not namespace-well-formed): xmllint and the hub refuse
xml/unsafe   well-formed, but declares or uses what the hub never processes (parsed
             entities, parameter entities, element or attribute-list declarations):
             xmllint accepts, the hub refuses as unsafe
envelope/valid    valid against schemas/envelope.xsd: xmllint --schema and the hub accept
envelope/invalid  invalid against it: both refuse

Run from the repository root: python3 tests/corpus/make-corpus.py
"""
import os
import shutil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)))
DECL = b'<?xml version="1.0" encoding="UTF-8"?>\n'
BOM = "\ufeff".encode()

XML_OK = {
    "minimal": b"<a/>",
    "declaration-and-bom": BOM + DECL + "<公文>內容</公文>\n".encode(),
    "comments-and-pis-around-the-root": DECL + b"<!-- before -->\n<?app data?>\n<a><!-- in - side --><?p x?></a>\n<!-- after -->\n",
    "cdata-with-brackets": b"<a><![CDATA[x]]y]] <b> & ]]></a>",
    "character-references": "<a>&#x4E2D;&#25991; &lt;&gt;&amp;&apos;&quot;</a>".encode(),
    "attribute-quotes": b"<a x='1' y=\"a > b\" z='&#60;'/>",
    "ideographic-space-inside": "<a>\u3000全形空白\u3000</a>".encode(),
    "namespace-prefix": b'<g:a xmlns:g="urn:x"><g:b/><c xmlns="urn:y"/></g:a>',
    "whitespace-in-tags": b"<a  x = \"1\"  ><b\n/></a\n>",
    "standalone": b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><a/>',
    "unparsed-entity-in-doctype": (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<!DOCTYPE 函 SYSTEM "104_2_utf8.dtd" [\n'
        '<!ENTITY ATTCH1 SYSTEM "1153000001_ATTCH1.pdf" NDATA _X>\n'
        '<!NOTATION _X SYSTEM "">\n'
        ']>\n<函><附件 附件檔名="ATTCH1"/></函>\n'
    ).encode(),
    "greater-than-in-text": b"<a>1 > 0 ]] ok</a>",
    "crlf-line-ends": b'<?xml version="1.0"?>\r\n<a>\r\n<b/>\r\n</a>\r\n',
    "tab-and-newline-attributes": b'<a x="\t1\n"/>',
    "xml-prefix": b'<a xml:lang="zh-TW" xml:space="preserve"/>',
    "empty-default-namespace": b'<a xmlns="urn:x"><b xmlns=""/></a>',
}

XML_BAD = {
    "double-hyphen-in-comment": b"<a><!-- a -- b --></a>",
    "comment-ending-in-hyphen": b"<a><!-- a ---></a>",
    "two-byte-order-marks": BOM + BOM + DECL + b"<a/>",
    "text-before-the-root": b"x<a/>",
    "ideographic-space-before-the-root": "\u3000<a/>".encode(),
    "no-break-space-after-the-root": "<a/>\u00a0".encode(),
    "control-character": b"<a>\x01</a>",
    "control-character-in-attribute": b'<a x="\x02"/>',
    "control-character-in-comment": b"<a><!-- \x1f --></a>",
    "reference-to-an-illegal-character": b"<a>&#1;</a>",
    "reference-to-nul": b"<a>&#0;</a>",
    "non-character-fffe": "<a>\ufffe</a>".encode(),
    "less-than-in-attribute": b'<a x="<"/>',
    "cdata-end-in-text": b"<a>]]></a>",
    "unquoted-attribute": b"<a x=1/>",
    "attribute-without-value": b"<a x/>",
    "no-space-between-attributes": b'<a x="1"y="2"/>',
    "mismatched-end-tag": b"<a></b>",
    "space-before-end-tag-name": b"<a></ a>",
    "name-starting-with-a-digit": b"<1a/>",
    "attribute-name-starting-with-hyphen": b'<a -x="1"/>',
    "declaration-not-at-the-start": b' <?xml version="1.0"?><a/>',
    "declaration-after-a-comment": b'<!-- c --><?xml version="1.0"?><a/>',
    "reserved-pi-target": b"<a><?XML x?></a>",
    "unbound-prefix": b"<g:a/>",
    "unbound-attribute-prefix": b'<a g:x="1"/>',
    "empty-prefix-binding": b'<g:a xmlns:g=""/>',
    "two-colons-in-a-name": b'<a:b:c xmlns:a="urn:x"/>',
    "two-roots": b"<a/><b/>",
    "duplicate-attribute": b'<a x="1" x="2"/>',
    "duplicate-attribute-after-namespaces": b'<a xmlns:p="urn:x" xmlns:q="urn:x" p:x="1" q:x="2"/>',
    "bare-ampersand": b"<a>a & b</a>",
    "undefined-entity": b"<a>&nbsp;</a>",
    "cdata-outside-the-root": b"<a/><![CDATA[x]]>",
    "doctype-after-the-root": b"<a/><!DOCTYPE a>",
    "bad-standalone": b'<?xml version="1.0" standalone="maybe"?><a/>',
    "no-root": DECL + b"<!-- only a comment -->",
    "unclosed-root": b"<a><b></b>",
    "comment-before-declaration-of-doctype": b"<!DOCTYPE a [<!-- x -- y -->]><a/>",
    "xml-prefix-rebound": b'<a xmlns:xml="urn:other"/>',
    "xmlns-prefix-declared": b'<a xmlns:xmlns="urn:x"/>',
    "not-utf8": b"<a>\xff</a>",
    # libxml2 refuses this one itself (an entity reference loop, it says).
    "billion-laughs": (
        b'<!DOCTYPE a [<!ENTITY l0 "ha"><!ENTITY l1 "&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;">'
        b'<!ENTITY l2 "&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;">]><a>&l2;</a>'
    ),
}

XML_UNSAFE = {
    "internal-entity": b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>',
    "external-entity": b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
    "declared-external-entity-unused": b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a/>',
    "parameter-entity": b'<!DOCTYPE a [<!ENTITY % p "">]><a/>',
    "attribute-default": '<!DOCTYPE 函 [<!ATTLIST 密等 代碼 CDATA "密">]><函/>'.encode(),
    "element-declaration": b"<!DOCTYPE a [<!ELEMENT a EMPTY>]><a/>",
}

ENV_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
SHA = "0" * 63 + "1"


def envelope(root="envelope", ns=' xmlns="urn:gwx:envelope:1"', p="", sender="379130000C",
             number="北市資綜字第1153012345號", subject="檢送計畫1份，請查照。", speed="普通件",
             classification="普通", confirm="false", recipients=None, files=None, extra="",
             root_attrs=""):
    if recipients is None:
        recipients = f"<{p}original><{p}participant>379100000G</{p}participant></{p}original>"
    if files is None:
        files = (f'<{p}file role="document"><{p}name>1153012345.di</{p}name>'
                 f"<{p}mediaType>application/xml</{p}mediaType><{p}size>12</{p}size>"
                 f"<{p}sha256>{SHA}</{p}sha256></{p}file>")
    return (
        f"{ENV_HEAD}<{p}{root}{ns}{root_attrs}>\n"
        f"  <{p}sender>{sender}</{p}sender>\n"
        f"  <{p}documentNumber>{number}</{p}documentNumber>\n"
        f"  <{p}subject>{subject}</{p}subject>\n"
        f"  <{p}speed>{speed}</{p}speed>\n"
        f"  <{p}classification>{classification}</{p}classification>\n"
        f"  <{p}immediateConfirmation>{confirm}</{p}immediateConfirmation>\n"
        f"  <{p}recipients>{recipients}</{p}recipients>\n"
        f"  <{p}files>{files}</{p}files>{extra}\n"
        f"</{p}{root}>\n"
    ).encode()


def file_entry(role="document", name="1153012345.di", media="application/xml", size="12", sha=SHA, attrs=""):
    return (f'<file role="{role}"{attrs}><name>{name}</name><mediaType>{media}</mediaType>'
            f"<size>{size}</size><sha256>{sha}</sha256></file>")


ENV_VALID = {
    "minimal": envelope(),
    "prefixed": envelope(ns=' xmlns:g="urn:gwx:envelope:1"', p="g:"),
    "prefixed-other-letter": envelope(ns=' xmlns:e="urn:gwx:envelope:1"', p="e:"),
    "comments-inside": envelope(extra="<!-- 附註 -->"),
    "group-recipient": envelope(recipients="<copy><group>全市各機關</group></copy>"),
    "group-id-of-64-chinese-characters": envelope(recipients=f"<copy><group>{'群' * 64}</group></copy>"),
    "unit-code-recipient": envelope(recipients="<original><participant>379100000GU100000</participant></original>"),
    "confirm-as-digit": envelope(confirm="1"),
    "boolean-with-spaces": envelope(confirm=" true "),
    "size-with-leading-zeros": envelope(files=file_entry(size="0012")),
    "cdata-subject": envelope(subject="<![CDATA[主旨 <含> 符號]]>"),
    "character-reference-subject": envelope(subject="&#x6AA2;送"),
    "media-type-with-parameters": envelope(files=file_entry(media="application/xml; charset=utf-8")),
    "several-files": envelope(files=file_entry() + file_entry(role="attachment", name="a.pdf", media="application/pdf")
                              + file_entry(role="roster", name="x.sw", media="application/xml")),
    "schema-location": envelope(root_attrs=' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
                                ' xsi:schemaLocation="urn:gwx:envelope:1 envelope.xsd"'),
    "crlf": envelope().replace(b"\n", b"\r\n"),
}

ENV_INVALID = {
    "no-namespace": envelope(ns=""),
    "other-namespace": envelope(ns=' xmlns="urn:gwx:envelope:2"'),
    "sender-in-a-foreign-namespace": envelope(
        ns=' xmlns="urn:gwx:envelope:1" xmlns:f="urn:foreign"').replace(
        b"<sender>379130000C</sender>", b"<f:sender>379130000C</f:sender>"),
    "sender-without-namespace": envelope().replace(
        b"<sender>379130000C</sender>", b'<sender xmlns="">379130000C</sender>'),
    "prefixed-root-unprefixed-children": envelope(ns=' xmlns:g="urn:gwx:envelope:1"').replace(
        b"<envelope", b"<g:envelope").replace(b"</envelope>", b"</g:envelope>"),
    "sender-with-spaces": envelope(sender=" 379130000C "),
    "speed-with-a-newline": envelope(speed="普通件\n"),
    "unknown-speed": envelope(speed="很急"),
    "sender-too-short": envelope(sender="37913000"),
    "empty-subject": envelope(subject=""),
    "subject-too-long": envelope(subject="字" * 1001),
    "text-in-the-root": envelope(extra="文字"),
    "text-in-recipients": envelope(recipients="文字<original><participant>379100000G</participant></original>"),
    "unknown-element": envelope(extra="<extra/>"),
    "unknown-attribute": envelope(root_attrs=' version="2"'),
    "unknown-attribute-on-file": envelope(files=file_entry(attrs=' hidden="yes"')),
    "namespaced-role": envelope(ns=' xmlns="urn:gwx:envelope:1" xmlns:g="urn:gwx:envelope:1"',
                                files=file_entry().replace(b"", b"") if False else
                                '<file g:role="document"><name>1153012345.di</name><mediaType>application/xml</mediaType>'
                                f"<size>12</size><sha256>{SHA}</sha256></file>"),
    "no-recipients": envelope(recipients=""),
    "no-files": envelope(files=""),
    "two-targets": envelope(recipients="<original><participant>379100000G</participant><group>G</group></original>"),
    "bad-role": envelope(files=file_entry(role="cover")),
    "missing-role": envelope(files=file_entry().replace('role="document"', "")),
    "negative-size": envelope(files=file_entry(size="-1")),
    # xs:unsignedLong collapses whitespace, but libxml2 does not: as xmllint says.
    "size-with-spaces": envelope(files=file_entry(size=" 12 ")),
    "size-not-a-number": envelope(files=file_entry(size="12 KB")),
    "upper-case-sha256": envelope(files=file_entry(sha=SHA.upper()[:-1] + "A")),
    "sha256-too-short": envelope(files=file_entry(sha="0" * 63)),
    "media-type-without-subtype": envelope(files=file_entry(media="application")),
    "path-in-file-name": envelope(files=file_entry(name="a/b.di")),
    "confirm-yes": envelope(confirm="yes"),
    "out-of-order": envelope().replace(b"<speed>", b"<extraSpeed/><speed>").replace(b"<extraSpeed/>", b""),
    "group-id-of-65-characters": envelope(recipients=f"<copy><group>{'群' * 65}</group></copy>"),
    "wrong-root": envelope(root="paket"),
}


def fix_out_of_order():
    e = envelope()
    a = b"  <speed>\xe6\x99\xae\xe9\x80\x9a\xe4\xbb\xb6</speed>\n"
    b = b"  <classification>\xe6\x99\xae\xe9\x80\x9a</classification>\n"
    assert a in e and b in e
    return e.replace(a + b, b + a)


ENV_INVALID["out-of-order"] = fix_out_of_order()


def write(sub, cases, ext=".xml"):
    d = os.path.join(ROOT, sub)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in cases.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, name + ext), "wb") as f:
            f.write(data)


write("xml/ok", XML_OK)
write("xml/bad", XML_BAD)
write("xml/unsafe", XML_UNSAFE)
write("envelope/valid", ENV_VALID)
write("envelope/invalid", ENV_INVALID)
