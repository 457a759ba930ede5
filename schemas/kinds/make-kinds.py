#!/usr/bin/env python3
"""Writes the DTDs of the exchangeable 公文 kinds other than 函 (standard library only).

    python3 schemas/kinds/make-kinds.py

The national DTD files of 令, 公告, 開會通知單, 會勘通知單, 簽 and 簽稿會核單
are not public here (schemas/national-dtd/KINDS.md): each root's
content model below is the element order that agency document systems'
exporters emit, with the multiplicity of the shared 104 element sets
(schemas/national-dtd/*.ent, official, which define every child). Strict
where the hub reads (發文機關, 發文日期, 發文字號, the subject), optional
where the national file is not known. src/formats/dtd.rs holds the same
models; tests/api/formats.rs checks every kind fixture against these files
with `xmllint --valid` and against the hub.

Each model is written under every DTD name exporters use: the 104 and 99
versions, UTF-8 and Big5 (the DTD text is the same; the DI's declaration
says its encoding). 函's are copies of the official 104_2_utf8.dtd model.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

NOTICE = ("發文機關+,受文者,聯絡人及電話?,發文日期,發文字號+,速別?,密等及解密條件或保密期限?,附件?,"
          "{p}事由,{p}時間+,{p}地點,主持人?,出席者?,列席者?,副本?,備註?,署名*")

KINDS = [
    # code, root, model, extra declarations, versions
    ("1", "令", "發文機關+,令類別?,受文者?,發文日期,發文字號+,速別?,密等及解密條件或保密期限?,附件?,"
                "主旨,段落*,正本?,副本?,署名*", "", ("104", "99")),
    ("2", "函", "發文機關+,函類別,地址,聯絡方式+,受文者,發文日期,發文字號+,速別?,密等及解密條件或保密期限?,"
                "附件?,主旨,段落*,正本,副本?,署名*", "", ("104", "99")),
    ("3", "公告", "發文機關+,發文日期,發文字號+,附件?,主旨,段落*,署名*", "", ("104", "99")),
    ("4", "開會通知單", NOTICE.format(p="開會"), "", ("104", "99")),
    ("B", "會勘通知單", NOTICE.format(p="會勘"), "", ("104",)),
    ("5", "簽", "發文機關或單位,受文者?,文號?,速別?,密等及解密條件或保密期限?,擬辦方式?,附件?,主旨,段落*,"
                "敬陳?,署名*,年月日?",
     "<!ELEMENT  發文機關或單位  ((全銜,機關代碼?)|(單位名,(機關代碼,單位代碼)?))>\n", ("104",)),
    ("6", "簽稿會核單", "受文者?,發文機關,案情摘要,承辦單位?,收文字號?,會辦單位?",
     "<!ELEMENT  會辦單位  (((單位名,單位代碼?)|全銜)+)>\n", ("104",)),
]


def dtd(name, root, model, extra):
    model = model if model.startswith("(") else f"({model})"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!--  {name}   {root}   written for gwx from national-dtd/KINDS.md (not the national file)  -->
<!ENTITY  % 基本標籤  SYSTEM "../national-dtd/104_basic_utf8.ent" >
%基本標籤;
<!ENTITY  % 電子交換標籤  SYSTEM "../national-dtd/104_exchange_utf8.ent" >
%電子交換標籤;
{extra}<!ELEMENT  {root}	{model}>
<!-- /{root} -->
"""


ROSTER = "(((姓名,職稱?,機關代碼,單位代碼?) | (單位名,機關代碼,單位代碼) | (全銜,機關代碼)),含附件?,內含本文與附件之可攜式文件檔名?,本別?)+"

if __name__ == "__main__":
    # The SW of a Big5 export names the Big5 roster DTD.
    with open(os.path.join(HERE, "104_roster_big5.dtd"), "w", encoding="utf-8") as f:
        f.write(dtd("104_roster_big5.dtd", "交換表單", ROSTER, ""))
    for code, root, model, extra, versions in KINDS:
        for version in versions:
            for charset in ("utf8", "big5"):
                name = f"{version}_{code}_{charset}.dtd"
                if name == "104_2_utf8.dtd":
                    continue  # the official file, in schemas/national-dtd
                with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
                    f.write(dtd(name, root, model, extra))
