"""Decoding and encoding beside the generator: a chapter's pages read ahead in one thread, finished pages written
behind in another, both through bounded queues so a run holds a few pages at a time whatever its length.

Decoders, encoders and torch's kernels release the GIL, so on a CPU the next page is read and the last one
written while the generator computes (benchmarks/predict_chapter.py measures the pages per minute it gains).
Writes run in submission order on one thread: a sink's pages reach it as they would without the threads.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_END = object()


def read_ahead(items: Iterable[T], depth: int = 2, enabled: bool = True) -> Iterator[T]:
    """`items`, produced in a background thread at most `depth` ahead of the consumer (in order); an exception
    raised while producing is raised here, at the item it stopped at. Closing the iterator stops the thread."""
    if not enabled:
        yield from items
        return
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put((_END, None))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, which raises it
            buffer.put((_END, e))

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = buffer.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full buffer
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.1)


class WriteBehind:
    """Runs writes on one background thread, in order, at most `depth` pending; the first failure is raised by the
    next `submit` or `drain` (a write that cannot be done, say a full disk, stops the run as it would without it).
    With `enabled` false every write runs at once, in the caller's thread."""

    def __init__(self, depth: int = 2, enabled: bool = True):
        self.depth = depth
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-behind") if enabled else None
        self.pending: list[Future] = []

    def submit(self, write: Callable[..., None], *args) -> None:
        if self.pool is None:
            write(*args)
            return
        self._settle(keep=self.depth - 1)
        self.pending.append(self.pool.submit(write, *args))

    def drain(self) -> None:
        """Wait for every pending write; raises the first failure."""
        self._settle(keep=0)

    def close(self) -> None:
        try:
            self.drain()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)

    def _settle(self, keep: int) -> None:
        while len(self.pending) > keep:
            self.pending.pop(0).result()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        elif self.pool is not None:  # already failing: finish the pages in hand, but do not mask that error
            self.pool.shutdown(wait=True)
