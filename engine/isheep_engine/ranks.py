"""train under torchrun: this process's rank, and rank 0's decisions sent to the other ranks (protocol.py's
docstring says how a torchrun job's processes live and die; train.py's which decisions are rank 0's)."""

from __future__ import annotations

import os
from typing import Any

from . import protocol


class Ranks:
    """This process's place in a torchrun job (world 1 when run alone); rank 0 decides, the others follow."""

    class Stopped(Exception):
        """Rank 0 failed before training: a follower leaves quietly, rank 0 reports the failure."""

    def __init__(self) -> None:
        torchrun = protocol.under_torchrun()  # WORLD_SIZE and RANK set by anything else are not ours
        self.world = int(os.environ.get("WORLD_SIZE", "1") or 1) if torchrun else 1
        self.rank = protocol.rank()
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0) if torchrun else 0
        self._group = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    def start(self, device: str) -> None:
        """Join the job's process group (which Trainer/accelerate then use as is), plus a gloo group for
        rank 0's decisions."""
        if self.world == 1:
            return
        import torch
        import torch.distributed as dist

        if not dist.is_initialized():
            if device == "cuda":
                torch.cuda.set_device(self.local_rank)
                dist.init_process_group(backend="cpu:gloo,cuda:nccl", device_id=torch.device("cuda", self.local_rank))
            else:
                dist.init_process_group(backend="gloo")
        self._group = dist.new_group(backend="gloo")

    def from_main(self, fn: Any) -> Any:
        """fn() on rank 0, its value sent to every rank; when it raises, the followers raise Stopped."""
        if self.world == 1:
            return fn()
        import torch.distributed as dist

        box: list[Any] = [None]
        if self.main:
            try:
                value = fn()
            except BaseException:
                dist.broadcast_object_list([("stop", None)], src=0, group=self._group)
                raise
            box = [("ok", value)]
        dist.broadcast_object_list(box, src=0, group=self._group)
        status, value = box[0]
        if status != "ok":
            raise Ranks.Stopped()
        return value

    def close(self) -> None:
        """Leave the process group before the interpreter exits: gloo's threads still running at exit abort the
        process (SIGABRT, "terminate called without an active exception") even after a good result."""
        if self.world == 1:
            return
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
