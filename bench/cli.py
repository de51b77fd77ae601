"""The ``ledbench`` command line: ``ledbench VERB ...`` (``ledbench VERB --help`` for each verb).

Errors meant for users (:class:`LedbenchError`) print as one line and exit 2, without a traceback unless
``--debug`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from pathlib import Path

from ledbench import __version__
from ledbench.bench.errors import LedbenchError

EPILOG = """\
examples:
  ledbench run                                  # the embedded default benchmark (synth_mini), offline
  ledbench run runs/lolblur_cascades.yaml limit=50 device=cuda
  ledbench run dataset=folder:/data/night enhancers=identity,clahe+richardson_lucy tasks=quality metrics=psnr
  ledbench list enhancers --filter 'zero*'
  ledbench list enhancers sci.medium            # one entry: config keys, weights (file, license, present?)
  ledbench enhance clahe+richardson_lucy photos/ out/
  ledbench synth sharp/ lowlight_blur/ severity=4
  ledbench report runs/default --format md,tex,html
  ledbench regress runs/default --baseline baseline.csv --tol psnr=0.05
  ledbench weights list
"""


def _setup_offline_env() -> None:
    """Make hub libraries fail fast when offline instead of retrying for tens of seconds."""
    from ledbench.bench.weights import network_available

    if os.environ.get("LEDBENCH_OFFLINE") or not network_available():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("YOLO_OFFLINE", "1")


def _overrides(tokens: list[str]) -> dict:
    from ledbench.bench.config import parse_overrides

    return parse_overrides(tokens)


def _split_runfile(args_tokens: list[str]) -> tuple[str | None, list[str]]:
    if args_tokens and "=" not in args_tokens[0]:
        return args_tokens[0], args_tokens[1:]
    return None, args_tokens


# -- list -------------------------------------------------------------------------------------------------------

_KINDS = {"enhancer": "enhancers", "task": "tasks", "dataset": "datasets", "metric": "metrics"}


def cmd_list(args) -> int:
    kind = _KINDS.get(args.kind, args.kind)
    if kind == "weights":
        return cmd_weights(argparse.Namespace(action="list", target=args.name, debug=args.debug))
    if args.name:
        print(describe(kind, args.name))
        return 0
    if kind == "enhancers":
        from ledbench.enhancers import enhancer_availability, list_enhancers

        for n in list_enhancers(args.filter, args.exclude, available=args.available):
            print(f"{n:40s} {'available' if enhancer_availability(n)[0] else 'weights missing'}"
                  if args.verbose else n)
    elif kind == "tasks":
        from ledbench.tasks import list_tasks, task_availability

        for n in list_tasks(args.filter, args.exclude, available=args.available):
            print(f"{n:32s} {'available' if task_availability(n)[0] else 'weights missing'}"
                  if args.verbose else n)
    elif kind == "datasets":
        from ledbench.datasets import DATASETS, dataset_needs_root, list_datasets

        for n in list_datasets(args.filter, args.exclude, available=args.available):
            if args.verbose:
                where = f"needs {n}:ROOT" if dataset_needs_root(n) else "bundled"
                print(f"{n:16s} {where:24s} {_first_line(DATASETS.get(n).__doc__)}")
            else:
                print(n)
        if args.verbose:
            print("\n`ledbench list datasets NAME` shows a dataset's folder layout and keys")
    elif kind == "metrics":
        from ledbench.tasks.metrics import list_metrics, metric_directions

        for n in list_metrics(args.filter, args.exclude, available=args.available):
            if args.verbose:
                dirs = metric_directions(n)
                print(f"{n:24s} " + ", ".join(f"{k} {'↑' if v else '↓'}" for k, v in dirs.items()))
            else:
                print(n)
    return 0


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""


def _fields(config) -> list[str]:
    """``key=value`` lines of a Config instance (or dataclass), in declaration order."""
    import dataclasses

    return [f"    {k}={v}" for k, v in _config_pairs(config)] if dataclasses.is_dataclass(config) else []


def _weights_lines(tags: dict, default_tag: str | None = None) -> list[str]:
    from ledbench.bench.weights import find_local

    lines = []
    for tag, spec in tags.items():
        path = find_local(spec)
        mark = " (default)" if tag == default_tag else ""
        lines.append(f"    {tag}{mark}: {spec.filename}, {'present ' + str(path) if path else 'missing'}")
        lines.append(f"        license: {spec.license}; source: {spec.source or spec.url or spec.hf_repo or '-'}")
        if spec.config:
            lines.append(f"        config: {spec.config}")
    return lines


def describe(kind: str, name: str) -> str:
    """One registry entry in detail (``ledbench list KIND NAME``): class, summary, config fields with the values
    this name builds with, weights tags (file, license, source, whether present), and for datasets the layout."""
    import dataclasses

    from ledbench.bench.plugin import build_plan

    lines = []
    if kind in ("enhancers", "tasks"):
        if kind == "enhancers":
            from ledbench.enhancers import ENHANCERS as reg
            from ledbench.enhancers import enhancer_availability as availability
        else:
            from ledbench.tasks import TASKS as reg
            from ledbench.tasks import task_availability as availability
        if "+" in name:  # a cascade: describe each stage
            return "\n\n".join([f"{name}: cascade, stages applied left to right"]
                                 + [describe(kind, stage) for stage in name.split("+")])
        cls, config, tag, _ = build_plan(reg, name)
        ok, why = availability(name)
        lines += [f"{name}  ({reg.origin(name)})", f"  {cls.summary or _first_line(cls.__doc__)}",
                  f"  tag: {tag or cls.default_tag or '-'}; {'available offline' if ok else 'not available: ' + why}",
                  "  config (key=value overrides; values this name builds with):"]
        lines += _fields(config) or ["    (none)"]
        tags = reg.tags(reg.lookup(name)[0])
        if tags:
            lines.append("  weights tags:")
            lines += _weights_lines(tags, cls.default_tag)
    elif kind == "metrics":
        from ledbench.tasks.metrics import METRICS, create_metric, metric_availability

        m = create_metric(name)
        ok, why = metric_availability(name)
        cls = type(m)
        lines += [f"{name}  ({METRICS.origin(name)})", f"  {cls.summary or _first_line(cls.__doc__)}",
                  "  outputs: " + ", ".join(f"{k} ({'higher' if v else 'lower'} is better)"
                                            for k, v in cls.directions.items()),
                  f"  scores: {cls.task_kind} predictions; "
                  + ("protocol label_free (statistics of the prediction alone, not accuracy)"
                     if getattr(cls, "protocol", "") == "label_free" else
                     f"needs a reference: {'yes' if cls.requires_reference else 'no'}"),
                  f"  {'available offline' if ok else 'not available: ' + why}",
                  "  config (key=value overrides):"]
        lines += _fields(m.config) or ["    (none)"]
        tags = getattr(cls, "weights_tags", None) or {}
        if tags:
            lines.append("  weights:")
            lines += _weights_lines(tags)
    elif kind == "datasets":
        from ledbench.datasets import DATASETS, dataset_needs_root

        cls = DATASETS.get(name)
        entry = DATASETS.entry(name)
        fixed = entry.meta.get("config", {})
        config = dataclasses.replace(cls.Config(), **fixed) if fixed else cls.Config()
        lines += [f"{entry.name}  ({DATASETS.origin(name)})",
                  f"  use: dataset={entry.name}:ROOT" if dataset_needs_root(name) else
                  f"  use: dataset={entry.name} (bundled, no download)", "", "  " + (cls.__doc__ or "").strip()]
        layout = (getattr(cls.Config, "__doc__", "") or "").strip()
        if layout and not layout.startswith(cls.Config.__name__ + "("):  # a real docstring, not the dataclass repr
            lines += ["", "  " + layout]
        module_doc = (sys.modules[cls.__module__].__doc__ or "").strip().split("\n", 1)
        if len(module_doc) > 1 and module_doc[1].strip():  # the module's notes: folder layouts, protocols
            lines += ["", f"  from {cls.__module__}:", textwrap.indent(module_doc[1].strip(), "  ")]
        lines += ["", "  config (dataset_args / key=value):"] + (_fields(config) or ["    (none)"])
    else:
        raise LedbenchError(f"`ledbench list {kind} NAME` describes enhancers, tasks, datasets or metrics")
    return "\n".join(lines)


# -- run --------------------------------------------------------------------------------------------------------

def cmd_run(args) -> int:
    from ledbench.bench.runner import default_run_file, dist_info, load_run_config, run

    runfile, tokens = _split_runfile(args.args)
    overrides = _overrides(tokens)
    if args.quiet or os.environ.get("CI", "").lower() == "true":
        overrides.setdefault("quiet", True)
    if getattr(args, "verbose", False):
        overrides.setdefault("verbose", True)
    cfg = load_run_config(runfile or default_run_file(), overrides)
    log = (lambda m: None) if cfg.quiet and args.quiet else (lambda m: print(f"ledbench: {m}", file=sys.stderr))
    t0 = time.time()
    outcome = run(cfg, log=log)
    if dist_info()[0] != 0:  # under torchrun rank 0 merges the shards and reports for every rank
        return 0
    from ledbench.reports.tables import render_console

    print()  # the table of report.md, built once by the run
    print(render_console(outcome.tables.table) if outcome.tables is not None else "(no results: nothing was scored)")
    print_run_notes(outcome, verbose=getattr(args, "verbose", False))
    stats = outcome.cache_stats
    print(f"\nwrote {outcome.run_dir}/results.csv, per_image.csv, manifest.json, report.md "
          f"in {time.time() - t0:.1f} s (enhanced: {stats.get('enhance_computed', 0)} computed, "
          f"{stats.get('enhance_hit', 0)} from cache; predictions: {stats.get('predict_computed', 0)} computed, "
          f"{stats.get('predict_hit', 0)} from cache)")
    if not outcome.rows:
        print("ledbench: nothing was scored (see 'not scored' above and errors in manifest.json)", file=sys.stderr)
        return 1
    return 0


def print_run_notes(outcome, verbose: bool = False) -> None:
    """What was not scored and why, once per run: skipped entries (one line unless ``verbose``), cells that cannot
    be scored on this dataset, failed units."""
    skipped = outcome.skipped
    if skipped and verbose:
        print("\nskipped (not available here):")
        for s in skipped:
            print(f"  {s.kind} {s.name}: {s.reason}")
    elif skipped:
        names = [s.name for s in skipped]
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        print(f"\n{len(skipped)} entries skipped, their weights are not here: {shown} "
              "(`ledbench weights list` says how to get them; -v or report.md lists the reasons)")
    not_scored = (outcome.manifest or {}).get("not_scored") or []
    if not_scored:
        print("\nnot scored:")
        seen = set()
        for n in not_scored:
            key = (n["enhancer"], n["task"], n["reason"])
            if key in seen:
                continue
            seen.add(key)
            metrics = sorted({m["metric"] for m in not_scored if (m["enhancer"], m["task"], m["reason"]) == key})
            who = "" if n["enhancer"] == "*" else f"{n['enhancer']} / "
            print(f"  {who}{n['task']} ({', '.join(metrics)}): {n['reason']}")
    if outcome.errors:
        print(f"\n{len(outcome.errors)} unit(s) failed and were skipped (on_error=skip); see report.md / "
              "manifest.json")


def _check_device(spec) -> str:
    """``spec`` as a device that exists here (``auto`` resolved, with a notice when it falls back to the CPU; None:
    ``auto`` without the notice, the default); a one-line error for ``cuda`` without CUDA, ``cuda:7`` on a 1-GPU
    machine, ``gpu``."""
    from ledbench.bench.device import check_device

    notice = None if spec is None else (lambda m: print(f"ledbench: {m}", file=sys.stderr))
    return str(check_device(spec, notice=notice))


# -- enhance ----------------------------------------------------------------------------------------------------

def cmd_enhance(args) -> int:
    from tqdm.auto import tqdm

    from ledbench.bench.errors import InputError
    from ledbench.bench.imageio import from_tensor, is_image_file, read_image, to_tensor, write_png
    from ledbench.enhancers import create_enhancer

    src, dst = Path(args.input_dir), Path(args.output_dir)
    device = _check_device(args.device)
    enh = create_enhancer(args.enhancer, weights=args.weights, device=device, download=args.download,
                          tile=args.tile, amp=args.amp, trust_weights=args.trust_weights,
                          **_overrides(args.overrides))
    if not src.exists():
        raise InputError(f"input {str(src)!r} does not exist")
    dst_real = dst.resolve()
    if src.is_dir() and dst_real == src.resolve():
        raise InputError(f"the output folder {str(dst)!r} is the input folder: the enhanced images would replace "
                         "the originals; pass another output folder")
    to_file = src.is_file() and is_image_file(dst) and not dst.is_dir()  # enhance photo.jpg out.png
    inside = src.is_dir() and dst_real.is_relative_to(src.resolve())  # photos/ -> photos/enhanced/
    files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file() and is_image_file(p)
                                               and not (inside and p.resolve().is_relative_to(dst_real)))
    if not files:
        raise InputError(f"no images found in {str(src)!r} (looked for .png/.jpg/.bmp/.tif/.webp)")
    rels = [Path(p.name) if src.is_file() else p.relative_to(src) for p in files]
    stems = [r.with_suffix("").as_posix() for r in rels]
    # x.png and x.jpg side by side: outputs x.png.png and x.jpg.png (the item ids of `ledbench run`), never one
    # overwriting the other
    outputs = {p: (r.with_suffix(".png") if stems.count(s) == 1 else r.with_name(r.name + ".png"))
               for p, r, s in zip(files, rels, stems)}
    from ledbench.bench.paths import ensure_writable_dir

    if to_file:
        if dst.suffix.lower() != ".png":
            raise InputError(f"enhance writes PNG (lossless, as the cache): name the output {dst.with_suffix('.png')}")
        outputs = {src: Path(dst.name)}
        dst = dst.parent
    ensure_writable_dir(dst, "output directory")
    failed = 0
    for path in tqdm(files, desc=f"enhance {enh.name}", disable=args.quiet):
        out = outputs[path]
        try:
            x = to_tensor(read_image(path))
            y = enh.enhance(x)
        except InputError as exc:
            failed += 1
            print(f"ledbench: skipped {path}: {exc}", file=sys.stderr)
            continue
        write_png(dst / out, from_tensor(y))
        if args.save_heatmaps:
            from ledbench.enhancers.dap_led import save_heatmaps  # DAP-LED with the CLIP prior only

            save_heatmaps(enh, x, dst / "heatmaps", out.with_suffix("").as_posix().replace("/", "__"))
    print(f"wrote {len(files) - failed} image(s) to {dst}" + (f"; {failed} failed (see above)" if failed else ""))
    return 1 if failed else 0


# -- synth / train / profile (delegated to their modules) -------------------------------------------------------

def cmd_synth(args) -> int:
    from ledbench.bench.errors import InputError
    from ledbench.datasets.synthesis import grid_main, synth_main

    if not args.grid and Path(args.sharp_dir).is_file():
        raise InputError(f"synth: {args.sharp_dir!r} is a file, not a folder of sharp images; pass a folder "
                         f"(ledbench synth sharp/ out/), or for one image's severity grid: "
                         f"ledbench synth {args.sharp_dir} grid.png --grid")
    if args.grid:
        return int(grid_main(args.sharp_dir, args.out_dir, _overrides(args.overrides)) or 0)
    return int(synth_main(args.sharp_dir, args.out_dir, _overrides(args.overrides)) or 0)


def cmd_train(args) -> int:
    if args.model not in ("dap_led",):
        raise LedbenchError(f"training is implemented for dap_led only, not {args.model!r}")
    from ledbench.enhancers.dap_led_train import train_main

    runfile, tokens = _split_runfile(args.args)
    return int(train_main(runfile, _overrides(tokens)) or 0)


def cmd_profile(args) -> int:
    import json

    from ledbench.bench.profile import format_table, profile_many

    overrides = _overrides(args.overrides)
    if "device" in overrides:
        overrides["device"] = _check_device(overrides["device"])
    rows = profile_many(args.enhancer, overrides)
    print(json.dumps(rows, indent=2, default=str) if args.json else format_table(rows))
    return 0


# -- report / regress -------------------------------------------------------------------------------------------

def cmd_report(args) -> int:
    from ledbench.reports.report import report_main

    images_root = args.images_root
    if images_root is None and (Path(args.run_dirs[0]) / "images").is_dir():
        images_root = str(Path(args.run_dirs[0]) / "images")  # written by `ledbench run save_images=true`
    return int(report_main(args.run_dirs, [f.strip() for f in args.format.split(",") if f.strip()], args.out,
                           args.rows, args.cols, allow_mismatch=args.allow_mismatch, split_by=args.split_by,
                           images_root=images_root, grid_metric=args.grid_metric, title=args.title,
                           stats=not args.no_stats, ci=args.ci, baseline=args.baseline, level=args.level,
                           n_resamples=args.n_resamples, seed=args.seed, method=args.method,
                           grid_enhancers=args.grid_enhancers, grid_images=args.grid_images,
                           grid_crop=args.grid_crop, caption=args.caption, label=args.label,
                           show_stderr=args.stderr) or 0)


def cmd_compare(args) -> int:
    from ledbench.reports.report import compare_main

    return int(compare_main(args.run_dir, args.a, args.b, args.metrics, n_resamples=args.n_resamples,
                            level=args.level, seed=args.seed, method=args.method, csv=args.csv) or 0)


def _stat_args(s, defaults: bool) -> None:
    """Bootstrap options shared by ``report`` and ``compare`` (None: the statistics module's defaults)."""
    s.add_argument("--level", type=float, default=0.95 if defaults else None, help="confidence level (0.95)")
    s.add_argument("--n-resamples", type=int, default=2000 if defaults else None, help="bootstrap resamples (2000)")
    s.add_argument("--seed", type=int, default=0 if defaults else None, help="bootstrap seed (0)")
    s.add_argument("--method", choices=["percentile", "bca"], default="percentile" if defaults else None,
                   help="interval method (percentile)")


def cmd_regress(args) -> int:
    from ledbench.reports.report import regress_main

    return int(regress_main(args.run_dir, args.baseline, args.tol or [], args.update_baseline,
                            default_tol=args.default_tol))


# -- weights ----------------------------------------------------------------------------------------------------

def all_weight_specs() -> dict[str, object]:
    """``{"name.tag": WeightsSpec}`` for every registered enhancer, task and metric (imports their classes). For the
    enhancers each key is a name ``ledbench run enhancers=`` accepts: a preset gets only the tags that agree with
    its config (``dap_led_small.noclip_synth``, no ``dap_led.noclip_synth``; ``Registry.tags``)."""
    from ledbench.enhancers import ENHANCERS, list_enhancers
    from ledbench.tasks import TASKS, list_tasks
    from ledbench.tasks.metrics import METRICS, list_metrics

    specs = {}
    for reg, names in ((ENHANCERS, list_enhancers(cascades=False)), (TASKS, list_tasks()), (METRICS, list_metrics())):
        for name in names:
            if reg.tags_enabled and "." in name:
                continue  # an arch.tag name: its arch (registered without a dot) lists it below
            try:
                tags = reg.tags(name) if reg.tags_enabled else getattr(reg.get(name), "weights_tags", {})
            except Exception as exc:  # a broken plugin must not hide the others
                print(f"ledbench: cannot load {name}: {exc}", file=sys.stderr)
                continue
            base = name.split(".")[0]
            for tag, spec in tags.items():
                specs.setdefault(f"{base}.{tag}", spec)
    return specs


def cmd_weights(args) -> int:
    from ledbench.bench.weights import find_local, import_weights, resolve_weights, sha256_file, unrecognised_files

    specs = all_weight_specs()
    if args.target and args.action in ("fetch", "verify", "list"):
        import fnmatch

        sel = {k: v for k, v in specs.items() if fnmatch.fnmatch(k, args.target) or k.split(".")[0] == args.target}
        if not sel:
            raise LedbenchError(f"no weights match {args.target!r}; see `ledbench weights list`")
        specs = sel
    if args.action == "list":
        for what, spec in sorted(specs.items()):
            path = find_local(spec)
            state = f"present  {path}" if path else "missing"
            print(f"{what:36s} {spec.filename:40s} {spec.license:18s} {state}")
        return 0
    if args.action == "import":
        if not args.target:
            raise LedbenchError("usage: ledbench weights import DIR")
        rows = import_weights(args.target, specs)
        for what, dest, status in rows:
            print(f"{what:36s} {status:18s} {dest}")
        if not rows:
            print(f"no known weight files found in {args.target}")
        skipped = unrecognised_files(args.target, specs)
        if skipped:
            shown = ", ".join(p.name for p in skipped[:5]) + (", ..." if len(skipped) > 5 else "")
            print(f"{len(skipped)} file(s) not recognised: {shown} (no registered weights file has that name; "
                  "rename a download to the file name `ledbench weights list` shows)")
        return 1 if any(s.startswith("refused") for _, _, s in rows) else 0
    if args.action == "fetch":
        bad = 0
        for what, spec in sorted(specs.items()):
            try:
                path = resolve_weights(spec, what=what, download=True)
                print(f"{what:36s} ok  {path}")
            except LedbenchError as exc:
                bad += 1
                print(f"{what:36s} {exc}")
        return 1 if bad else 0
    if args.action == "verify":
        bad = 0
        for what, spec in sorted(specs.items()):
            path = find_local(spec)
            if path is None:
                continue
            digest = sha256_file(path)
            ok = spec.sha256 is None or digest == spec.sha256
            bad += not ok
            print(f"{what:36s} {'ok' if ok else 'MISMATCH'} {digest[:16]} "
                  f"{'(no published sha256)' if spec.sha256 is None else ''} {path}")
        return 1 if bad else 0
    raise LedbenchError(f"unknown weights action {args.action!r}")


# -- help: the keys of each verb, read from the code that takes them ---------------------------------------------

_ARGV: list[str] = []  # the command line being parsed (lets `ledbench enhance NAME --help` show NAME's keys)


class _VerbParser(argparse.ArgumentParser):
    """A verb's parser whose help ends with its ``key=value`` keys, computed only when help is shown (``keys``: a
    function of the command line returning text), so building the parser imports nothing heavy."""

    def __init__(self, *args, keys=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.keys = keys

    def format_help(self) -> str:
        text = super().format_help()
        if self.keys is None:
            return text
        try:
            extra = self.keys(_ARGV)
        except Exception as exc:  # noqa: BLE001 - help must print even when a name is wrong
            extra = f"keys: cannot list them ({exc})"
        return text.rstrip("\n") + "\n\n" + extra + "\n"


def _wrap_keys(title: str, pairs: list[tuple[str, object]]) -> str:
    body = ", ".join(f"{k}={v}" for k, v in pairs) if pairs else "(none)"
    return textwrap.fill(body, width=110, initial_indent="  ", subsequent_indent="  ",
                         break_on_hyphens=False, break_long_words=False).join([title + "\n", ""])


def _config_pairs(config) -> list[tuple[str, object]]:
    import dataclasses

    out = []
    for f in dataclasses.fields(config):
        if isinstance(config, type):
            v = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else "(required)")
        else:
            v = getattr(config, f.name)
        if isinstance(v, (tuple, list)):
            v = ",".join(map(str, v))
        out.append((f.name, v))
    return out


def _positional_after(argv: list[str], verb: str) -> str | None:
    """The first positional after ``verb`` on the command line (the enhancer of ``enhance NAME --help``)."""
    if verb not in argv:
        return None
    rest = [a for a in argv[argv.index(verb) + 1:] if not a.startswith("-") and "=" not in a]
    return rest[0] if rest else None


def _enhancer_config_text(name: str | None, verb: str) -> str:
    if not name:
        return (f"enhancer keys: the fields of the enhancer's Config; `ledbench {verb} NAME --help` lists\n"
                "NAME's with their defaults (also `ledbench list enhancers NAME`)")
    from ledbench.bench.plugin import build_plan
    from ledbench.enhancers import ENHANCERS

    pairs = [p for stage in name.split("+") for p in _config_pairs(build_plan(ENHANCERS, stage)[1])]
    return _wrap_keys(f"keys of {name} (key=value, defaults shown):", pairs)


def _enhancer_keys(argv: list[str]) -> str:
    return _enhancer_config_text(_positional_after(argv, "enhance"), "enhance")


def _profile_keys(argv: list[str]) -> str:
    from ledbench.bench.profile import PROFILE_KEYS

    return ("profile keys (key=value): " + ", ".join(PROFILE_KEYS) + "\n"
            + _enhancer_config_text(_positional_after(argv, "profile"), "profile"))


def _synth_keys(argv: list[str]) -> str:
    from ledbench.datasets.synthesis import GRID_KEYS, SYNTH_KEYS

    lines = ["keys (key=value):"] + [f"  {k:13s} {v}" for k, v in SYNTH_KEYS.items()]
    lines += ["keys with --grid:"] + [f"  {k:13s} {v}" for k, v in GRID_KEYS.items()]
    return "\n".join(lines)


def _train_keys(argv: list[str]) -> str:
    from ledbench.enhancers.dap_led import DAPLEDConfig
    from ledbench.enhancers.dap_led_train import TrainConfig

    return (_wrap_keys("training keys (run file or key=value; TrainConfig, defaults shown):",
                       _config_pairs(TrainConfig)) + "\n"
            + _wrap_keys("model keys (under model: in the run file, or model.KEY=value / flat; DAPLEDConfig):",
                         _config_pairs(DAPLEDConfig)))


# -- parser -----------------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog="ledbench", formatter_class=fmt, epilog=EPILOG, description=textwrap.dedent("""\
        ledbench: does this night-time image enhancer make the downstream models better?
        Runs enhancers over datasets, feeds the outputs to depth / segmentation / detection models, scores
        everything and writes tables, plots and regression verdicts."""))
    p.add_argument("--version", action="version", version=f"ledbench {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="verb", metavar="VERB", parser_class=_VerbParser)

    s = sub.add_parser("list", help="list registered enhancers, tasks, datasets, metrics or weights",
                       formatter_class=fmt, epilog="examples:\n  ledbench list enhancers --filter 'zero*'\n"
                       "  ledbench list metrics -v\n  ledbench list enhancers sci.medium -v\n"
                       "  ledbench list datasets lolblur")
    s.add_argument("kind", nargs="?", default="enhancers",
                   choices=["enhancers", "tasks", "datasets", "metrics", "weights",
                            "enhancer", "task", "dataset", "metric"])
    s.add_argument("name", nargs="?", help="one entry to describe in detail: config fields with defaults, weights "
                                           "tags (file, license, source, present?), a dataset's folder layout")
    s.add_argument("--filter", help="shell wildcard, e.g. 'zero*'")
    s.add_argument("--exclude", help="shell wildcard to drop")
    s.add_argument("--available", action="store_true",
                   help="only entries usable offline now (weights present; datasets: bundled)")
    s.add_argument("-v", "--verbose", action="store_true",
                   help="show availability / metric direction / dataset summary")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("run", help="run a benchmark (no argument: the embedded default, synth_mini)",
                       formatter_class=fmt, description=textwrap.dedent("""\
        Run a benchmark from a YAML run file plus key=value overrides (or the embedded default).
        keys: name, dataset (synth_mini | folder:PATH | lolblur:PATH | synth:FOLDER ...), dataset_args, severity
        (a sweep in one run: dataset=synth:FOLDER severity=1,3,5 or dataset=synth_mini severity=1,3), enhancers (list or
        comma-separated, wildcards ok), tasks, metrics (quality metrics), task_metrics, out (run dir, default
        runs/<name>), limit, device (cpu|cuda|auto), batch, workers (image-reading threads), on_error (skip|fail),
        seed, skip_unavailable, include_reference, download, tile, tile_overlap, amp, cache_dir, quiet,
        save_images (copy enhanced images into the run dir, for report grids), exist_ok (replace an existing
        run dir), plan_memo (default true: a fully cached re-run builds no model)."""),
                       epilog="examples:\n  ledbench run\n  ledbench run runs/lolblur_cascades.yaml limit=20\n"
                              "  ledbench run enhancers=identity,clahe tasks=quality metrics=psnr,ssim_y out=/tmp/r\n"
                              "  ledbench run dataset=synth:out severity=1,3,5 enhancers=identity,gamma")
    s.add_argument("args", nargs="*", metavar="[RUNFILE] [key=value]")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bars (also when CI=true)")
    s.add_argument("-v", "--verbose", action="store_true",
                   help="a progress bar per stage and model, and every skipped entry with its reason")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("enhance", help="enhance a folder of images", formatter_class=fmt, keys=_enhancer_keys,
                       epilog="examples:\n  ledbench enhance sci.medium night/ out/\n"
                              "  ledbench enhance gamma photo.jpg out/ gamma=0.4")
    s.add_argument("enhancer")
    s.add_argument("input_dir", help="a folder of images (searched recursively) or one image file")
    s.add_argument("output_dir", help="the output folder (PNG files, same relative paths; it may sit inside the "
                   "input folder, never be it), or a .png file when the input is one image")
    s.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config fields of the enhancer (`ledbench enhance NAME --help` lists them)")
    s.add_argument("--weights", help="a local weights file or a weights tag")
    s.add_argument("--device", help="auto (default: CUDA when present), cpu, cuda, cuda:N or mps")
    s.add_argument("--tile", default="0", help="tile size for large images (0: whole image, auto: memory budget)")
    s.add_argument("--amp", action="store_true", help="float16 autocast on CUDA")
    s.add_argument("--download", action="store_true", help="allow downloading missing weights")
    s.add_argument("--trust-weights", action="store_true",
                   help="allow full unpickling of a checkpoint that stores Python objects (trusted files only)")
    s.add_argument("--save-heatmaps", action="store_true", help="DAP-LED: also write the degradation heatmaps")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=cmd_enhance)

    s = sub.add_parser("synth", help="make a low-light + motion-blur dataset from sharp images",
                       formatter_class=fmt, keys=_synth_keys,
                       epilog="examples:\n  ledbench synth sharp/ out/ severity=4 seed=0\n"
                              "  ledbench synth photo.jpg grid.png --grid     # one image across severities 1..5, "
                              "with measured statistics")
    s.add_argument("sharp_dir", help="folder of sharp images (with --grid: one image)")
    s.add_argument("out_dir", help="output folder (with --grid: the PNG to write)")
    s.add_argument("--grid", action="store_true",
                   help="write a severity 1..5 picture of one image and print brightness / noise statistics")
    s.add_argument("overrides", nargs="*", metavar="key=value")
    s.set_defaults(func=cmd_synth)

    s = sub.add_parser("train", help="train DAP-LED (torchrun-ready)", formatter_class=fmt, keys=_train_keys,
                       epilog="examples:\n  ledbench train dap_led runs/dap_led_train_synth.yaml\n"
                              "  torchrun --nproc_per_node 4 -m ledbench.bench.cli train dap_led RUN.yaml")
    s.add_argument("model")
    s.add_argument("args", nargs="*", metavar="[RUNFILE] [key=value]")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("report", help="tables / plots / HTML from stored runs", formatter_class=fmt,
                       epilog="example:\n  ledbench report runs/default runs/other --format md,tex,csv,html")
    s.add_argument("run_dirs", nargs="+")
    s.add_argument("--format", default="md", help="comma-separated: md, tex, csv, html, plots, grids (grids and "
                                                  "plots also come with html)")
    s.add_argument("--out", help="output folder (default: RUN_DIR/report for one run, ./ledbench-report for "
                                 "several)")
    s.add_argument("--images-root", help="folder of <enhancer>/<item_id>.png for qualitative grids (default: "
                                         "RUN_DIR/images when the run saved images)")
    s.add_argument("--split-by", help="column that separates tables (e.g. dataset)")
    s.add_argument("--grid-metric", help="per-image metric that picks the best/worst images for grids (default: "
                                         "the first full-reference quality metric)")
    s.add_argument("--grid-enhancers", metavar="A,B,...", help="grid columns between the input and the reference "
                                                               "(default: the 4 best by the grid metric)")
    s.add_argument("--grid-images", metavar="IDS|best:M[:K]|worst:M[:K]",
                   help="grid rows: image ids (id1,id2), or the K (3) images where the grid's enhancers gain most "
                        "(best) / least (worst) over the input on metric M (default: one grid of each)")
    s.add_argument("--grid-crop", metavar="auto|x,y,w,h", help="add a zoomed crop row: auto (the patch where the "
                                                               "columns differ most) or a box, relative (<= 1) or "
                                                               "in pixels")
    s.add_argument("--title", help="report title")
    s.add_argument("--caption", help="LaTeX \\caption text (the column groups and the legend are appended)")
    s.add_argument("--label", help="LaTeX \\label (default tab:ledbench; split and sweep tables add -VALUE / "
                                   "-METRIC-sev)")
    s.add_argument("--stderr", action="store_true", help="show ± standard error after each value (± over images "
                                                         "for a value from one run, over runs for repeats; no ± "
                                                         "without it)")
    s.add_argument("--rows", default="enhancer", metavar="FIELDS",
                   help="key fields that make the table rows, '.' or ',' separated, from enhancer, dataset, split, "
                        "task_kind, task, protocol, metric, severity (default enhancer; e.g. enhancer.severity)")
    s.add_argument("--cols", default="task.metric", metavar="FIELDS",
                   help="key fields that make the columns, same choices (default task.metric; e.g. metric)")
    s.add_argument("--allow-mismatch", action="store_true", help="merge runs over different datasets/protocols")
    s.add_argument("--ci", choices=["pm", "interval"], help="show bootstrap intervals as ± half-width or [lo, hi]")
    s.add_argument("--baseline", help="row the significance markers compare with (default: identity, the input)")
    s.add_argument("--no-stats", action="store_true", help="no bootstrap markers, statistics.csv or correlations")
    _stat_args(s, defaults=False)
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("compare", help="paired bootstrap comparison of two enhancers in one run", formatter_class=fmt,
                       epilog="example:\n  ledbench compare runs/default sci.medium gamma psnr,map50_95")
    s.add_argument("run_dir")
    s.add_argument("a", help="enhancer A (differences are A - B)")
    s.add_argument("b", help="enhancer B")
    s.add_argument("metrics", nargs="?", help="comma-separated metric names (default: every shared column)")
    s.add_argument("--csv", help="also write the comparison as CSV to this path")
    _stat_args(s, defaults=True)
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("regress", help="exit 1 when a run is worse than a baseline", formatter_class=fmt,
                       epilog="exit codes:\n  0  pass (no metric worse beyond its tolerance)\n"
                              "  1  regression: a metric worse, a baseline row missing, or the dataset changed\n"
                              "  2  the check could not be made: not a results file (empty, binary, a report or "
                              "per-image CSV),\n     unknown --tol metric, bad option\n"
                              "example:\n  ledbench regress runs/default --baseline ci/baseline.csv --tol psnr=0.05")
    s.add_argument("run_dir")
    s.add_argument("--baseline", required=True, metavar="CSV",
                   help="the baseline results CSV to compare with (a results.csv of an earlier run, e.g. "
                        "ci/baseline_default.csv; --update-baseline writes it)")
    s.add_argument("--tol", action="append", metavar="metric=value",
                   help="tolerance for a metric: absolute in metric units or relative with %%; keys are a metric, "
                        "task.metric or a wildcard, comma-separated or repeated (e.g. --tol psnr=0.05,lpips=2%%)")
    s.add_argument("--update-baseline", action="store_true", help="rewrite the baseline from this run")
    s.add_argument("--default-tol", help="tolerance for metrics without --tol (absolute, or relative like 1%%)")
    s.set_defaults(func=cmd_regress)

    s = sub.add_parser("weights", help="list | fetch NAME | import DIR | verify", formatter_class=fmt,
                       epilog="examples:\n  ledbench weights list\n  ledbench weights import ~/Downloads/ckpts\n"
                              "  ledbench weights fetch 'nafnet*'\n  ledbench weights verify")
    s.add_argument("action", choices=["list", "fetch", "import", "verify"])
    s.add_argument("target", nargs="?", help="name pattern (fetch/verify/list) or folder (import)")
    s.set_defaults(func=cmd_weights)

    s = sub.add_parser("profile", help="params, GMACs, latency, peak memory of enhancers", formatter_class=fmt,
                       keys=_profile_keys,
                       epilog="examples:\n  ledbench profile restormer,nafnet size=256,512\n"
                              "  ledbench profile dap_led preset=base size=256 --json")
    s.add_argument("enhancer", help="enhancer name(s), comma-separated")
    s.add_argument("overrides", nargs="*", metavar="key=value",
                   help="size=N|HxW[,...] batch repeats warmup device threads weights random_init, or config keys")
    s.add_argument("--json", action="store_true", help="print the measurements as JSON")
    s.set_defaults(func=cmd_profile)
    return p


def main(argv: list[str] | None = None) -> int:
    _ARGV[:] = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value tokens may come after options (`ledbench enhance x in out --device cpu gamma=0.4`)
    target = next((name for name in ("overrides", "args") if isinstance(getattr(args, name, None), list)), None)
    leftovers = [tok for tok in extra if target is None or "=" not in tok or tok.startswith("-")]
    if leftovers:
        parser.error(f"unrecognized arguments: {' '.join(leftovers)}")
    if target is not None:
        getattr(args, target).extend(tok for tok in extra if tok not in leftovers)
    if not getattr(args, "verb", None):
        parser.print_help()
        return 0
    try:
        _setup_offline_env()
        return int(args.func(args) or 0)
    except (LedbenchError, KeyError) as exc:
        if args.debug or not isinstance(exc, LedbenchError):
            raise
        print(f"ledbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ledbench: interrupted; finished units are cached and a re-run resumes from them", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
