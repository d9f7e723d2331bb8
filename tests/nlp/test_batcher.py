"""The micro-batcher: batching, thread hand-off, errors, closing; and with the real embedder."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from appliance.nlp.batcher import BatcherClosed, MicroBatcher
from appliance.nlp.embedder import Embedder


def test_concurrent_calls_become_few_batches_off_the_loop() -> None:
    sizes: list[int] = []
    threads: set[int] = set()

    def double(items: list[int]) -> list[int]:
        sizes.append(len(items))
        threads.add(threading.get_ident())
        return [2 * i for i in items]

    async def main() -> list[int]:
        b: MicroBatcher[int, int] = MicroBatcher(double, max_batch=8, max_wait=0.02)
        try:
            return await asyncio.gather(*(b.submit(i) for i in range(20)))
        finally:
            await b.aclose()

    assert asyncio.run(main()) == [2 * i for i in range(20)]
    assert max(sizes) <= 8
    assert sum(sizes) == 20
    assert len(sizes) <= 4  # 20 items, 8 per batch: 3 batches (4 if timing splits one)
    assert threading.get_ident() not in threads


def test_items_arriving_while_a_batch_runs_form_the_next_batch() -> None:
    sizes: list[int] = []
    gate = threading.Event()

    def slow(items: list[str]) -> list[str]:
        sizes.append(len(items))
        gate.wait(5)
        return [s.upper() for s in items]

    async def main() -> list[str]:
        b: MicroBatcher[str, str] = MicroBatcher(slow, max_batch=32, max_wait=0.001)
        first = asyncio.ensure_future(b.submit("a"))
        await asyncio.sleep(0.05)  # "a" is running alone now
        rest = [asyncio.ensure_future(b.submit(c)) for c in "bcdef"]
        await asyncio.sleep(0.05)
        gate.set()
        out = [await first] + [await r for r in rest]
        await b.aclose()
        return out

    assert asyncio.run(main()) == list("ABCDEF")
    assert sizes == [1, 5]


def test_an_error_reaches_every_caller_of_the_batch() -> None:
    def boom(items: list[int]) -> list[int]:
        raise ValueError("model failed")

    async def main() -> list[object]:
        b: MicroBatcher[int, int] = MicroBatcher(boom, max_wait=0.01)
        out = await asyncio.gather(b.submit(1), b.submit(2), return_exceptions=True)
        await b.aclose()
        return out

    out = asyncio.run(main())
    assert len(out) == 2
    assert all(isinstance(e, ValueError) for e in out)


def test_wrong_result_count_is_an_error() -> None:
    async def main() -> None:
        b: MicroBatcher[int, int] = MicroBatcher(lambda items: [0], max_wait=0.01)
        try:
            with pytest.raises(RuntimeError, match="results"):
                await asyncio.gather(b.submit(1), b.submit(2))
        finally:
            await b.aclose()

    asyncio.run(main())


def test_closed_batcher_refuses_work() -> None:
    async def main() -> None:
        b: MicroBatcher[int, int] = MicroBatcher(lambda items: items)
        assert await b.submit(3) == 3
        await b.aclose()
        with pytest.raises(BatcherClosed):
            await b.submit(4)

    asyncio.run(main())


def test_embedder_through_the_batcher_matches_direct_calls(embedder_int8: Embedder) -> None:
    texts = [
        "What was Apple's gross margin in fiscal 2024?",
        "Net sales decreased 3% year over year.",
        "Risk factors related to supply chain concentration.",
        "NVIDIA data center revenue",
    ]

    async def main() -> list[np.ndarray]:
        b: MicroBatcher[str, np.ndarray] = MicroBatcher(
            lambda items: list(embedder_int8.embed(items)), max_wait=0.01
        )
        try:
            return await b.submit_many(texts)
        finally:
            await b.aclose()

    got = np.vstack(asyncio.run(main()))
    direct = np.vstack([embedder_int8.embed([t]) for t in texts])
    assert np.abs(got - direct).max() < 1e-6
