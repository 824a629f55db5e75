"""current_platform of the fake vllm package: FAKE_VLLM_DEVICE (default "cuda"; empty: no device, as real vLLM
reports on a machine without a GPU)."""

import os


class _Platform:
    @property
    def device_type(self) -> str:
        return os.environ.get("FAKE_VLLM_DEVICE", "cuda")


current_platform = _Platform()
