"""Agent-assist benchmarks (issue 3 §7); each part prints one table.

    .venv/bin/python bench/assist.py [--only lint] [--n 2000]

- lint: compliance lint latency on a 500-character reply, one call at a time, for each lint mode
  an agent's draft goes through (target p99 < 5 ms).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from xiaoer.knowledge.compliance import lint

# A realistic after-sale reply with a few findings (a vague word, an absolute promise, an
# over-limit compensation, a grouped bank card number) spread through it.
_REPLY_PARTS = (
    "亲，非常抱歉给您带来不好的购物体验，这边已经为您查询到订单的物流信息，",
    "包裹目前在转运中心，可能会晚一点到，我们会在48小时内为您跟进处理结果。",
    "如果收到后有质量问题，我们绝对支持七天无理由退换货，运费由我们承担。",
    "另外为表歉意，给您补偿80元无门槛优惠券，请注意查收。",
    "退款会原路退回到您尾号为6222 0212 3456 7894的银行卡，1个工作日内到账。",
    "请您理解快递高峰期的延误，如有其他问题随时联系我们，祝您生活愉快！",
)


def reply_of(length: int) -> str:
    text = ""
    while len(text) < length:
        text += "".join(_REPLY_PARTS)
    return text[:length]


def percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


def measure(call: Callable[[], object], n: int) -> list[float]:
    for _ in range(min(50, n)):
        call()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return times


def bench_lint(n: int) -> bool:
    text = reply_of(500)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("no category, agent", lambda: lint(text)),
        ("after_sale, agent", lambda: lint(text, category="after_sale")),
        ("complaint, angry, agent", lambda: lint(text, category="complaint", angry=True)),
        ("complaint, angry, supervisor", lambda: lint(text, category="complaint", angry=True,
                                                      role="supervisor")),
    ]  # fmt: skip
    print(f"lint latency, {len(text)}-character reply, {len(lint(text).findings)} findings")
    print(f"{'mode':<30} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    worst = 0.0
    for name, call in cases:
        times = measure(call, n)
        p99 = percentile(times, 0.99)
        worst = max(worst, p99)
        print(
            f"{name:<30} {n:>6} {statistics.median(times):>8.3f} "
            f"{percentile(times, 0.95):>8.3f} {p99:>8.3f} {times[-1]:>8.3f}"
        )
    ok = worst < 5.0
    print(f"target p99 < 5 ms: {'met' if ok else 'MISSED'} (worst p99 {worst:.3f} ms)")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="lint", help="comma-separated parts: lint")
    parser.add_argument("--n", type=int, default=2000, help="calls per measured case")
    args = parser.parse_args()
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    ok = True
    if "lint" in parts:
        ok = bench_lint(args.n) and ok
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
