"""masksynth never imports torch (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_masksynth_does_not_import_torch():
    code = (
        "import sys, masksynth\n"
        "from masksynth import SynthConfig, synthesize, sequence_stats, augment_tracked, calibrate\n"
        "import numpy as np\n"
        "m = synthesize(SynthConfig.preset('mid', size=(48, 64), frames=3), seed=0)\n"
        "sequence_stats(m); calibrate(m)\n"
        "augment_tracked(m, rng=np.random.default_rng(0), crop_size=(32, 32))\n"
        "assert 'torch' not in sys.modules, 'masksynth imported torch'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_calibrate_stays_the_function_after_its_module_was_imported():
    """masksynth.batch imports the module masksynth.calibrate; that used to bind the module over the
    lazily exported function of the same name (``masksynth.calibrate(masks)``: 'module' object is
    not callable)."""
    code = (
        "import masksynth\n"
        "from masksynth.batch import plan_synthesis\n"
        "from masksynth.calibrate import MIN_SAMPLES\n"
        "from masksynth import calibrate\n"
        "assert callable(calibrate) and callable(masksynth.calibrate) and calibrate.__name__ == 'calibrate'\n"
        "assert sys.modules['masksynth.calibrate'].MIN_SAMPLES == MIN_SAMPLES\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", "import sys\n" + code], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
