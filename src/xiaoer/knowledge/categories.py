"""The category tree of the script library.

A category is a path such as "售后/退换货". Its root says what kind of answer it is, which
decides the recommended answer structure and the compliance rules that apply:
咨询 → consultation, 售后 → after_sale, 投诉 → complaint. Shops may add any sub-category; the
default tree below is what the editor offers first.
"""

from __future__ import annotations

KINDS: tuple[str, ...] = ("consultation", "after_sale", "complaint")

ROOT_KINDS: dict[str, str] = {
    "咨询": "consultation",
    "售前": "consultation",
    "consultation": "consultation",
    "售后": "after_sale",
    "after-sale": "after_sale",
    "after_sale": "after_sale",
    "aftersale": "after_sale",
    "投诉": "complaint",
    "complaint": "complaint",
}

DEFAULT_TREE: dict[str, tuple[str, ...]] = {
    "咨询": ("物流", "商品", "尺码", "活动", "发票", "支付", "账户"),
    "售后": ("物流", "退换货", "退款", "维修", "发票"),
    "投诉": ("情绪安抚", "质量", "服务", "物流"),
}


def category_kind(path: str | None) -> str | None:
    """consultation / after_sale / complaint from the path's root, None when it has no kind."""
    if not path:
        return None
    root = path.split("/", 1)[0].strip().lower()
    return ROOT_KINDS.get(root)


def tree(paths: list[str]) -> list[dict[str, object]]:
    """The default tree merged with the shop's own paths, as nested nodes
    `{"name", "path", "children"}` in a stable order (defaults first, then alphabetical)."""
    roots: dict[str, dict[str, object]] = {}

    def node(parent: dict[str, dict[str, object]], name: str, path: str) -> dict[str, object]:
        if name not in parent:
            parent[name] = {"name": name, "path": path, "children": {}}
        return parent[name]

    for root, subs in DEFAULT_TREE.items():
        r = node(roots, root, root)
        for sub in subs:
            node(r["children"], sub, f"{root}/{sub}")  # type: ignore[arg-type]
    for path in sorted({p for p in paths if p}):
        parts = path.split("/")
        level = roots
        for depth, name in enumerate(parts):
            current = node(level, name, "/".join(parts[: depth + 1]))
            level = current["children"]  # type: ignore[assignment]

    def listed(level: dict[str, dict[str, object]]) -> list[dict[str, object]]:
        return [{**n, "children": listed(n["children"])} for n in level.values()]  # type: ignore[arg-type]

    return listed(roots)
