"""The benchmark table: ratios, targets, and the CSV, Markdown and PNG outputs."""

from __future__ import annotations

import csv
import datetime as dt
import os
import platform
from pathlib import Path

from benchmarks import rows

TOOLS = ("metafor", "pimeta", "metaprop")
_CLOCKS = {
    "cpu": "CPU time of the process (user + system; a busy machine inflates it much less "
    "than elapsed time)",
    "wall": "elapsed (wall-clock) time",
}


def _machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": f"{mem_gib:.0f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def _load() -> str:
    """The 1-minute load average (other programs running on the machine)."""
    return f"{os.getloadavg()[0]:.1f}"


def _seconds(tool: dict | None, row_id: str, clock: str) -> float | None:
    if not tool or row_id not in tool["rows"]:
        return None
    return float(tool["rows"][row_id][clock])


def _target_text(row: rows.Row) -> str:
    parts = []
    for tool, value in (("metafor", row.vs_metafor), ("pimeta", row.vs_pimeta)):
        if value is None:
            continue
        parts.append(f"faster than {tool}" if value == 1 else f">= {value:g}x {tool}")
    return " and ".join(parts)


def build(
    tools: dict, memory: dict | None, whole: dict, absent: dict, clock: str, load_start: str
) -> dict:
    """Collect every tool's record into one table with ratios and verdicts.

    ``tools`` maps a tool to its runner's record (None when it did not run); ``absent``
    gives the reason to print for a tool that did not run; ``clock`` ("cpu" or "wall")
    is the time the table and the ratios use (both are kept in the CSV); ``load_start``
    is the load average when the run began.
    """
    out_rows = []
    for row in rows.ROWS:
        t = {name: _seconds(tools.get(name), row.id, clock) for name in TOOLS}
        other = "wall" if clock == "cpu" else "cpu"
        t_other = {name: _seconds(tools.get(name), row.id, other) for name in TOOLS}
        extrapolated = None
        if tools.get("metafor") and row.id in tools["metafor"]["rows"]:
            extrapolated = tools["metafor"]["rows"][row.id].get("extrapolated_from")
        ratio = {
            name: (t[name] / t["metaprop"]) if t[name] and t["metaprop"] else None
            for name in ("metafor", "pimeta")
        }
        verdicts = []
        for name, need in (("metafor", row.vs_metafor), ("pimeta", row.vs_pimeta)):
            if need is not None:
                got = ratio[name]
                verdicts.append(None if got is None else (got > need if need == 1 else got >= need))
        met = "n/a" if None in verdicts else ("yes" if all(verdicts) else "no")
        out_rows.append(
            {
                "id": row.id,
                "label": row.label,
                **{f"{name}_s": t[name] for name in TOOLS},
                **{f"{name}_{other}_s": t_other[name] for name in TOOLS},
                "metafor_extrapolated_from": extrapolated,
                "speedup_vs_metafor": ratio["metafor"],
                "speedup_vs_pimeta": ratio["pimeta"],
                "target": _target_text(row),
                "met": met,
            }
        )
    scaling = []
    mp = tools.get("metaprop") or {"rows": {}}
    for k in rows.SCALING_KS:
        rec = mp["rows"].get(f"gosh_scaling_k{k}")
        if rec:
            scaling.append(
                {
                    "k": k,
                    "n_fits": rec["n_fits"],
                    "seconds": rec[clock],
                    "per_fit_us": rec[clock] / rec["n_fits"] * 1e6,
                }
            )
    flat = None
    if len(scaling) == len(rows.SCALING_KS):
        per_fit = [x["per_fit_us"] for x in scaling]
        flat = max(per_fit) / min(per_fit)
    skipped = {name: rec["skipped"] for name, rec in tools.items() if rec and rec["skipped"]}
    for name, rec in tools.items():
        if rec is None:
            skipped[name] = {"all rows": absent[name]}
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "clock": clock,
        "load": f"{load_start} at the start, {_load()} at the end",
        "machine": _machine(),
        "versions": {name: rec["version"] for name, rec in tools.items() if rec},
        "rows": out_rows,
        "scaling": scaling,
        "flat_ratio": flat,
        "memory": memory,
        "whole": whole,
        "skipped": skipped,
    }


def _fmt_time(seconds: float | None, approx: bool = False) -> str:
    if seconds is None:
        return "-"
    text = f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"
    return f"~{text}" if approx else text


def _fmt_ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}x" if value >= 100 else f"{value:.3g}x"


def _markdown_rows(table: dict) -> list[str]:
    lines = [
        "| row | metafor | pimeta | metaprop | vs metafor | vs pimeta | target | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table["rows"]:
        lines.append(
            f"| {r['label']} | {_fmt_time(r['metafor_s'], bool(r['metafor_extrapolated_from']))}"
            f" | {_fmt_time(r['pimeta_s'])} | {_fmt_time(r['metaprop_s'])}"
            f" | {_fmt_ratio(r['speedup_vs_metafor'])} | {_fmt_ratio(r['speedup_vs_pimeta'])}"
            f" | {r['target']} | {r['met']} |"
        )
    return lines


def _extra_lines(table: dict) -> list[str]:
    lines = []
    if table["scaling"]:
        lines += [
            "",
            f"GOSH with {rows.SCALING_SUBSETS:,} random subsets (REML; all subsets when "
            "there are fewer), metaprop:",
            "",
            "| k | fits | time | per fit | per fit and study (k cells) |",
            "|---|---|---|---|---|",
        ]
        for s in table["scaling"]:
            lines.append(
                f"| {s['k']} | {s['n_fits']:,} | {_fmt_time(s['seconds'])} "
                f"| {s['per_fit_us']:.3g} µs | {s['per_fit_us'] / s['k'] * 1e3:.3g} ns |"
            )
        if table["flat_ratio"] is not None:
            ok = "yes" if table["flat_ratio"] <= rows.FLAT_LIMIT else "no"
            lines += [
                "",
                f"Largest / smallest time per fit over k = "
                f"{', '.join(str(k) for k in rows.SCALING_KS)}: {table['flat_ratio']:.2f} "
                f"(target: flat, read as <= {rows.FLAT_LIMIT}; met: {ok}).",
            ]
    mem = table["memory"]
    if mem:
        peak = mem.get("process_peak_bytes", mem["peak_bytes"])
        ok = "yes" if peak < rows.MEMORY_LIMIT_BYTES else "no"
        lines += [
            "",
            f"GOSH k = {rows.MEMORY_K}, {mem['n_fits']:,} random subsets (REML), metaprop: "
            f"{_fmt_time(mem[table['clock']])}, peak resident memory of the whole process "
            f"{peak / 1024**2:.0f} MiB (target < 1 GiB; met: {ok}).",
        ]
    if table["whole"]:
        lines += [
            "",
            "One REML fit as a whole process (start-up and imports included; /usr/bin/time, "
            "median of 3):",
            "",
            "| tool | wall time | peak memory |",
            "|---|---|---|",
        ]
        for tool, w in table["whole"].items():
            lines.append(
                f"| {tool} | {_fmt_time(w['seconds'])} | {w['peak_bytes'] / 1024**2:.0f} MiB |"
            )
    for tool, skipped in table["skipped"].items():
        for row_id, reason in skipped.items():
            lines.append(f"\nSkipped ({tool}, {row_id}): {reason}")
    return lines


def text(table: dict) -> str:
    """The table as printed on the terminal (the Markdown table and notes)."""
    return "\n".join(_markdown_rows(table) + _extra_lines(table))


def markdown(table: dict) -> str:
    """The Markdown report: machine, date, versions, the table and the notes."""
    m = table["machine"]
    versions = ", ".join(table["versions"].values())
    head = [
        "# Benchmark: metaprop against metafor and pimeta",
        "",
        f"Measured {table['date']} on {m['cpu']}, {m['cores']} cores, {m['memory']} "
        f"({m['os']}; Python {m['python']}; load average {table['load']}). "
        f"Versions: {versions}.",
        "",
        f"Times are {_CLOCKS[table['clock']]}, medians over repeats, measured inside each "
        "process (R: `proc.time()`; Python: `time.process_time()` and "
        "`time.perf_counter()`), so start-up is not counted; fast calls are looped so that "
        "a repeat lasts at least 0.2 s. Every tool runs with one BLAS thread and fits the "
        "same `yi`, `vi` (logit of simulated proportions, k = 16) with its defaults. `~` "
        "marks a metafor time extrapolated from part of the work (the 10,000-fit row from "
        "`--metafor-many` datasets; GOSH REML on all subsets from the 3,000-subset row); "
        "`python -m benchmarks.run --full` measures them in full. Speed-up = the other "
        "tool's time / metaprop's time. `results.csv` has both clocks.",
        "",
    ]
    return "\n".join(head + _markdown_rows(table) + _extra_lines(table)) + "\n"


def write_csv(table: dict, path: Path) -> None:
    """One line per row (main rows, then the scaling and memory rows)."""
    other = "wall" if table["clock"] == "cpu" else "cpu"
    fields = [
        "id",
        "label",
        "metafor_s",
        "pimeta_s",
        "metaprop_s",
        "speedup_vs_metafor",
        "speedup_vs_pimeta",
        "target",
        "met",
        "metafor_extrapolated_from",
        f"metafor_{other}_s",
        f"pimeta_{other}_s",
        f"metaprop_{other}_s",
        "clock",
    ]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in table["rows"]:
            w.writerow({**r, "clock": table["clock"]})
        for s in table["scaling"]:
            ok = table["flat_ratio"] is not None and table["flat_ratio"] <= rows.FLAT_LIMIT
            w.writerow(
                {
                    "id": f"gosh_scaling_k{s['k']}",
                    "label": f"GOSH, {s['n_fits']:,} subsets, k = {s['k']} "
                    f"({s['per_fit_us']:.3g} us per fit)",
                    "metaprop_s": s["seconds"],
                    "target": f"time per fit flat in k (largest / smallest over k "
                    f"<= {rows.FLAT_LIMIT})",
                    "met": "yes" if ok else "no",
                }
            )
        mem = table["memory"]
        if mem:
            peak = mem.get("process_peak_bytes", mem["peak_bytes"])
            w.writerow(
                {
                    "id": "gosh_memory_k20",
                    "label": f"GOSH k = 20, {mem['n_fits']:,} subsets: "
                    f"peak {peak / 1024**2:.0f} MiB",
                    "metaprop_s": mem[table["clock"]],
                    "target": "peak resident memory < 1 GiB",
                    "met": "yes" if peak < rows.MEMORY_LIMIT_BYTES else "no",
                }
            )


def plot(table: dict, path: Path) -> None:
    """Bars of the times per row and tool (log scale), and time per fit against k."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (ax, ax2) = plt.subplots(
        1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [3, 1]}, layout="constrained"
    )
    labels = [r["label"] for r in table["rows"]]
    y = np.arange(len(labels))
    height = 0.27
    colours = {"metafor": "#4477aa", "pimeta": "#ccbb44", "metaprop": "#ee6677"}
    for i, tool in enumerate(TOOLS):
        values = [r[f"{tool}_s"] or np.nan for r in table["rows"]]
        bars = ax.barh(y + (i - 1) * height, values, height, label=tool, color=colours[tool])
        if tool == "metafor":  # hatched: extrapolated from part of the work
            for bar, r in zip(bars, table["rows"], strict=True):
                if r["metafor_extrapolated_from"]:
                    bar.set_hatch("//")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel(f"seconds, {table['clock']} time (median; log scale)")
    ax.legend(frameon=False)
    ax.set_title(f"metaprop vs metafor and pimeta ({table['date']}; hatched: extrapolated)")
    if table["scaling"]:
        ks = [s["k"] for s in table["scaling"]]
        ax2.plot(ks, [s["per_fit_us"] for s in table["scaling"]], "o-", color=colours["metaprop"])
        ax2.set_ylim(bottom=0)
        ax2.set_xticks(ks)
    ax2.set_xlabel("k (studies)")
    ax2.set_ylabel("µs per fit")
    ax2.set_title("GOSH REML, 10^5 subsets")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def outputs(directory: Path) -> list[Path]:
    """The files :func:`write` creates."""
    return [directory / name for name in ("results.csv", "results.md", "results.png")]


def write(table: dict, directory: Path) -> None:
    """Write results.csv, results.md and results.png into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    csv_path, md_path, png_path = outputs(directory)
    write_csv(table, csv_path)
    md_path.write_text(markdown(table))
    plot(table, png_path)
