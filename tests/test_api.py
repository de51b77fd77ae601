"""The Python API a researcher calls directly: a metric called on one image, ``list_*(available=True)``, the lazy
``ledbench.run`` and the offline download message."""

from __future__ import annotations

import math
import subprocess
import sys
import urllib.error

import numpy as np
import pytest

from ledbench.tasks.metrics import create_metric


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    ref = rng.random((32, 40, 3))
    pred = np.clip(ref + rng.normal(0, 0.05, ref.shape), 0, 1)
    return pred, ref


# -- metrics called on one image --------------------------------------------------------------------------------

def test_psnr_call_is_skimage_and_hand_value(pair):
    from skimage.metrics import peak_signal_noise_ratio

    pred, ref = pair
    value = create_metric("psnr")(pred, ref)
    assert isinstance(value, float)
    assert value == pytest.approx(peak_signal_noise_ratio(ref, pred, data_range=1.0), abs=1e-12)
    assert value == pytest.approx(10 * math.log10(1.0 / np.mean((pred - ref) ** 2)), abs=1e-9)


def test_ssim_call_is_skimage(pair):
    from skimage.metrics import structural_similarity

    pred, ref = pair
    expected = structural_similarity(ref, pred, data_range=1.0, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    assert create_metric("ssim")(pred, ref) == pytest.approx(expected, abs=1e-12)


def test_call_leaves_the_accumulator_alone(pair):
    pred, ref = pair
    m = create_metric("psnr")
    m.update(pred, ref, "a")
    before = m.compute()
    other = m(ref * 0.5, ref)
    assert m.n_images == 1 and m.compute() == before
    assert other == pytest.approx(10 * math.log10(1.0 / np.mean((0.5 * ref) ** 2)))


def test_call_multi_output_metric_returns_its_per_image_dict():
    rng = np.random.default_rng(1)
    gt = rng.uniform(1, 10, (16, 16)).astype(np.float32)
    pred = gt * rng.uniform(0.8, 1.2, gt.shape).astype(np.float32)
    p, t = {"depth": pred, "kind": "metric"}, {"depth": gt, "kind": "metric"}
    m = create_metric("depth_none")  # metric depth in (1, 10) m, no alignment: AbsRel by hand
    values = m(p, t)
    assert isinstance(values, dict) and set(values) == set(m.directions)
    m.update(p, t, "x")
    assert values == pytest.approx(m.per_image()["x"])
    abs_rel = float(np.mean(np.abs(pred - gt) / gt))
    assert values["abs_rel_none"] == pytest.approx(abs_rel, rel=1e-5)
    assert create_metric("abs_rel_none")(p, t) == pytest.approx(abs_rel, rel=1e-5)  # single output: a float


def test_call_dataset_level_metric_scores_that_image_alone():
    target = np.array([[0, 0], [1, 1]])
    pred = np.array([[0, 1], [1, 1]])
    m = create_metric("miou", num_classes=2)
    m.update(target, target, "perfect")
    values = m(pred, target)
    # hand-computed: IoU(class 0) = 1/2, IoU(class 1) = 2/3; 3 of 4 pixels right
    assert values["miou"] == pytest.approx((1 / 2 + 2 / 3) / 2) and values["pixel_acc"] == pytest.approx(0.75)
    assert m.compute()["miou"] == pytest.approx(1.0) and m.n_images == 1


# -- list_*(available=True) -------------------------------------------------------------------------------------

def test_list_enhancers_available():
    from ledbench.enhancers import enhancer_availability, list_enhancers

    names = list_enhancers(available=True)
    assert {"iat.lol_v1", "sci.medium", "identity", "gamma"} <= set(names)  # shipped weights / none needed
    assert "zero_dce" not in names and "zero_dce.Epoch99" not in names       # not in the isolated LEDBENCH_HOME
    assert "zero_dce" in list_enhancers()
    assert all(enhancer_availability(n)[0] for n in names)
    assert list_enhancers("sci*", available=True) == [n for n in names if n.startswith("sci")]


def test_list_tasks_metrics_datasets_available():
    from ledbench.datasets import list_datasets
    from ledbench.tasks import list_tasks, task_availability
    from ledbench.tasks.metrics import list_metrics, metric_availability

    tasks = list_tasks(available=True)
    assert "quality" in tasks and set(tasks) <= set(list_tasks())
    assert all(task_availability(n)[0] for n in tasks)
    metrics = list_metrics(available=True)
    assert {"psnr", "ssim", "niqe"} <= set(metrics)  # niqe's parameters are packaged
    assert "lpips" not in metrics and not metric_availability("lpips")[0]  # VGG trunk absent offline
    assert list_datasets(available=True) == ["synth_mini"]
    assert "lolblur" in list_datasets()


def test_metric_availability_hook(monkeypatch):
    """A metric class may answer for itself (e.g. a fallback location of its weights)."""
    from ledbench.tasks.metrics import METRICS, list_metrics, metric_availability

    cls = METRICS.get("lpips")
    monkeypatch.setattr(cls, "availability", classmethod(lambda c: (True, "")), raising=False)
    assert metric_availability("lpips") == (True, "") and "lpips" in list_metrics(available=True)


# -- ledbench.run -----------------------------------------------------------------------------------------------

def test_lazy_run_reexport_keeps_import_light():
    code = ("import sys, ledbench; assert 'torch' not in sys.modules, 'import ledbench imported torch'; "
            "from ledbench.bench import runner; "
            "assert ledbench.run is runner.run and ledbench.RunConfig is runner.RunConfig; "
            "assert ledbench.load_run_config is runner.load_run_config; print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
    import ledbench

    with pytest.raises(AttributeError):
        ledbench.no_such_thing  # noqa: B018


# -- downloads without network ----------------------------------------------------------------------------------

SPEC_URL = "https://example.org/files/model.pth"


def test_download_unreachable_says_so(monkeypatch):
    import urllib.request

    from ledbench.bench import weights
    from ledbench.bench.errors import WeightsUnavailable

    def refuse(*a, **k):
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.delenv("LEDBENCH_OFFLINE", raising=False)
    spec = weights.WeightsSpec(filename="model.pth", url=SPEC_URL)
    with pytest.raises(WeightsUnavailable) as err:
        weights.download_weights(spec, what="toy.model")
    msg = str(err.value)
    assert "cannot reach example.org: the network is unreachable from here" in msg
    assert f"download {SPEC_URL} on a machine with internet" in msg and "ledbench weights import DIR" in msg
    assert "weights fetch" not in msg


def test_resolve_with_download_offline_says_so(monkeypatch):
    from ledbench.bench import weights
    from ledbench.bench.errors import WeightsUnavailable

    monkeypatch.setattr(weights, "network_available", lambda *a, **k: False)
    monkeypatch.setenv("LEDBENCH_OFFLINE", "1")
    spec = weights.WeightsSpec(filename="model.pth", url=SPEC_URL)
    with pytest.raises(WeightsUnavailable, match="cannot reach example.org: offline mode is set"):
        weights.resolve_weights(spec, what="toy.model", download=True)
    # without download=True the message still offers the fetch command (it is not a failed fetch)
    with pytest.raises(WeightsUnavailable, match="weights fetch toy.model"):
        weights.resolve_weights(spec, what="toy.model", download=False)


def test_http_error_is_not_called_unreachable():
    from ledbench.bench.weights import _unreachable

    assert not _unreachable(urllib.error.HTTPError(SPEC_URL, 404, "Not Found", {}, None))
    assert _unreachable(urllib.error.URLError("no route"))
