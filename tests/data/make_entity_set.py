"""Regenerate `entities_zh.jsonl`: realistic customer messages with entity spans marked by hand.

Templates use `[text](type)` markup; slot values are drawn from realistic lists with a fixed seed.
The labels come from the markup, never from the extractor. Run: python tests/data/make_entity_set.py
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

ORDERS = [
    "XE20261123000123",
    "XE20261201004567",
    "3847561029384756",
    "202611230098765432",
    "ＸＥ２０２６１１２３０００８８８",
    "JD20261123456789",
    "126543098712",
    "4301928374650193",
]
TRACK = [
    ("顺丰", "SF1426374859601"),
    ("中通", "75312345678901"),
    ("圆通", "YT7712345678901"),
    ("韵达", "4312345678901"),
    ("申通", "773098765432101"),
    ("京东", "JDVA12345678901"),
    ("EMS", "EA123456789CN"),
    ("邮政", "1198765432109"),
]
PHONES = [
    "13812345678",
    "139 1234 5678",
    "186-0000-1234",
    "+86 15012345678",
    "17700001111",
    "１３８１２３４５６７８",
    "010-87654321",
    "0755-26543210",
]
AMOUNTS = [
    "99元",
    "￥59.9",
    "¥128",
    "30块",
    "二十块",
    "12.5元",
    "¥ 1999",
    "200块钱",
    "五十元",
    "3块5",
]
DATES = [
    "明天",
    "后天",
    "下周一",
    "这周五",
    "11月25日",
    "12月1号",
    "2026-12-03",
    "3天后",
    "昨天",
    "星期三",
    "今天",
    "两天后",
    "大后天",
    "2026年12月12日",
    "上周六",
]
SIZES = [
    "XL",
    "M码",
    "L",
    "XXL",
    "S码",
    "38码",
    "42码",
    "170cm",
    "60kg",
    "均码",
    "2XL",
    "165cm",
    "120斤",
]
COLORS = [
    "黑色",
    "白色",
    "红色",
    "藏青色",
    "卡其色",
    "浅蓝色",
    "米白色",
    "酒红色",
    "灰色",
    "粉色",
    "军绿色",
]
QTYS = ["两件", "2件", "3个", "一双", "1条", "5瓶", "两套", "4盒", "十个", "2双"]

TEMPLATES = [
    "我的订单[{o}](order_no)到哪了？",
    "订单号[{o}](order_no)，什么时候发货啊",
    "你好，[{o}](order_no)这个单能改地址吗",
    "帮我查下订单[{o}](order_no)的物流",
    "{c}单号[{t}](tracking_no)一直没更新",
    "快递单号是[{t}](tracking_no)，显示已签收但我没收到",
    "运单号[{t}](tracking_no)怎么查不到",
    "{c}快递[{t}](tracking_no)到哪了",
    "我电话[{p}](phone)，有问题打给我",
    "收货人手机号改成[{p}](phone)",
    "联系方式：[{p}](phone) 谢谢",
    "这个衣服[{a}](amount)还包邮吗",
    "[昨天](date)买的时候[{a}](amount)，[今天](date)降价了能退差价吗",
    "退款[{a}](amount)什么时候到账",
    "[{d}](date)能发货吗",
    "我[{d}](date)就要用，能到吗",
    "能不能[{d}](date)送到",
    "[{s}](size)的还有货吗",
    "要[{s}](size)的，[{col}](color)",
    "[{col}](color)的有没有[{s}](size)",
    "身高[{h}](size)体重[{w}](size)穿什么码",
    "我买了[{q}](quantity)，只收到[一个](quantity)",
    "拍[{q}](quantity)[{col}](color)的[{s}](size)可以吗",
    "[{col}](color)和白的各要[{q}](quantity)",
    "订单[{o}](order_no)少发了[{q}](quantity)",
    "订单[{o}](order_no)的{c}单号[{t}](tracking_no)不对吧",
    "我在[{d}](date)下的单[{o}](order_no)还没到",
    "改成[{col}](color)[{s}](size)，订单[{o}](order_no)",
    "为什么[{a}](amount)的券用不了，订单[{o}](order_no)",
    "手机[{p}](phone)，订单[{o}](order_no)，帮我退款",
    "麻烦[{d}](date)之前发{c}，谢谢",
    "买[{q}](quantity)能便宜[{a}](amount)吗",
    "Order [{o}](order_no) still not shipped",
    "my phone is [{p}](phone), please call me",
    "I want the [{col_en}](color) one in size [{s_en}](size)",
    "can it arrive [{d_en}](date)?",
    "运费[{a}](amount)太贵了吧",
    "[{s}](size)偏大吗？平时穿[{s2}](size)",
    "你们[{d}](date)发货的话[{d2}](date)能到吗",
    "这件[{col}](color)的色差好大",
]
HEIGHTS = ["170cm", "165cm", "1米75", "158cm", "180厘米"]
WEIGHTS = ["60kg", "120斤", "55公斤", "70kg", "100斤"]
COLORS_EN = ["black", "white", "red", "navy", "grey"]
SIZES_EN = ["XL", "M", "L", "XXL", "S"]
DATES_EN = ["tomorrow", "today", "3 days later"]

# Hand-written messages, many with numbers that are NOT entities.
HANDWRITTEN = [
    "你好在吗",
    "这个有优惠券吗",
    "七天无理由可以退吗",
    "我的快递到哪了",
    "怎么退货",
    "可以开发票吗",
    "发货太慢了！！！",
    "都等了3天了还没到",
    "第2个问题是尺码偏大吗",
    "买一送一吗",
    "评分5分给你们",
    "好评返现[5元](amount)吗",
    "包装有3层吗",
    "24小时内发货吗",
    "iphone 15 pro 有货吗",
    "型号是AB-12的那款",
    "这个能用5年吗",
    "100%纯棉吗",
    "是不是正品，假货我就投诉",
    "客服在吗？在吗？",
    "我要转人工",
    "衣服起球了怎么办",
    "你们家质量真的很差",
    "运费险怎么理赔",
    "我在2楼，快递放门口",
    "我要的是[黑色](color)不是[白色](color)",
    "拍了[两件](quantity)[M码](size)",
    "订单[XE20261123000123](order_no)，顺丰",
    "[13812345678](phone)是我的号",
    "退[¥59](amount)给我",
    "[下周三](date)前能到吗",
    "多少钱一件",
    "鞋子[39码](size)的偏小吗",
    "[2026-11-30](date)之前能发货吗",
    "价格是[168元](amount)吗？",
    "为什么订单[126543098712](order_no)退款还没到",
    "中通快递单号[73123456789012](tracking_no)",
    "[JDVA12345678901](tracking_no)这个单号查不到",
    "[SF1426374859601](tracking_no)",
    "身份证号码110101199003071234可以吗",
    "银行卡6222021234567890123退款到这个卡",
    "地址是xx路123号",
    "我家门牌号是1502",
    "今年是2026年",
    "尺码表在哪看",
    "颜色好看吗",
    "有没有别的颜色",
    "买了好几件",
    "这个东西质量一般般",
    "太气人了，骗子！",
]


def render(template: str, slots: dict[str, str]) -> dict[str, object]:
    filled = template.format(**slots)
    text, spans = "", []
    pos = 0
    for m in re.finditer(r"\[([^\]]+)\]\((\w+)\)", filled):
        text += filled[pos : m.start()]
        start = len(text)
        text += m.group(1)
        spans.append({"type": m.group(2), "start": start, "end": len(text), "text": m.group(1)})
        pos = m.end()
    text += filled[pos:]
    return {"text": text, "entities": spans}


def main() -> None:
    rng = random.Random(20261123)
    rows = []
    for i in range(330):
        template = TEMPLATES[i % len(TEMPLATES)]
        carrier, track = rng.choice(TRACK)
        size = rng.choice(SIZES)
        slots = {
            "o": rng.choice(ORDERS),
            "t": track,
            "c": carrier,
            "p": rng.choice(PHONES),
            "a": rng.choice(AMOUNTS),
            "d": rng.choice(DATES),
            "d2": rng.choice(DATES),
            "s": size,
            "s2": rng.choice([s for s in SIZES if s != size]),
            "col": rng.choice(COLORS),
            "q": rng.choice(QTYS),
            "h": rng.choice(HEIGHTS),
            "w": rng.choice(WEIGHTS),
            "col_en": rng.choice(COLORS_EN),
            "s_en": rng.choice(SIZES_EN),
            "d_en": rng.choice(DATES_EN),
        }
        rows.append(render(template, slots))
    rows.extend(render(t, {}) for t in HANDWRITTEN)
    out = Path(__file__).with_name("entities_zh.jsonl")
    with out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} messages → {out}")


if __name__ == "__main__":
    main()
