"""Model tests: one torch thread, everything seeded."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _torch_setup():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)
