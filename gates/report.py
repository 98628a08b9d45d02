"""One self-contained HTML page per model: gates, signers, the probe's latency histogram, alias history.

Pure: :func:`render_html` turns a :class:`ModelReport` (plain data the caller gathered and verified)
into one HTML document with inline CSS and inline SVG: no script, no external asset, no web font.
Every value from the registry or a verdict is HTML-escaped.

What is red: an alias whose audit status is not ``BACKED``; a gate with no verdict, a verdict that
does not verify against the trust policy, or one that does not hold (failed, wrong signer, another
model digest or contract); a history entry whose envelope does not verify.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["AliasView", "GateView", "HistoryView", "ModelReport", "VersionView", "render_html"]


@dataclass(frozen=True)
class GateView:
    """One gate of one version, as its verified envelope says (or why there is none)."""

    gate: str
    owner: str
    """The contract's owner team of this gate."""
    signed_by: str | None = None
    """The trust-policy team whose key signed the verified verdict; None: nothing verified."""
    keyid: str | None = None
    passed: bool | None = None
    issued_at: str | None = None
    expires_at: str | None = None
    checks: str = ""
    """A one-line summary, e.g. ``11 checks: 11 pass``."""
    problems: tuple[str, ...] = ()
    """Why there is no verified verdict, or why it does not hold."""

    @property
    def ok(self) -> bool:
        return self.signed_by is not None and bool(self.passed) and not self.problems


@dataclass(frozen=True)
class VersionView:
    """A model version: its aliases, its gates and the probe figures of its signed SRE verdict."""

    version: str
    aliases: tuple[str, ...]
    digest: str | None
    gates: tuple[GateView, ...]
    histogram: tuple[tuple[float | None, int], ...] = ()
    """``(upper bound ms, count)`` per bucket, +Inf last as None (from the verified SRE verdict)."""
    p99_ms: float | None = None
    p50_ms: float | None = None
    slo_p99_ms: float | None = None
    slo_p50_ms: float | None = None
    cold_start_s: float | None = None
    max_cold_start_s: float | None = None


@dataclass(frozen=True)
class AliasView:
    alias: str
    version: str
    status: str
    """``backed``, ``incomplete``, ``invalid`` or ``unbacked`` (``signoff audit``)."""
    detail: str


@dataclass(frozen=True)
class HistoryView:
    at: str
    kind: str
    """``promotion`` or ``rollback``."""
    version: str
    previous: str | None
    by: str | None
    state: str
    valid: bool | None
    reason: str = ""


@dataclass(frozen=True)
class ModelReport:
    model: str
    workload: str
    contract_digest: str
    generated_at: str
    aliases: tuple[AliasView, ...]
    history: tuple[HistoryView, ...]
    versions: tuple[VersionView, ...]
    notes: tuple[str, ...] = field(default=())


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;
color:#1d1d1f;background:#fff;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px}.sub{color:#555}code{font:12px ui-monospace,Menlo,monospace}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid #ddd;padding:5px 8px;
text-align:left;vertical-align:top}th{background:#f5f5f7}
.ok{color:#0a6b2e;font-weight:600}.bad{color:#b00020;font-weight:600}
tr.bad td{background:#fdecee}.badge{display:inline-block;padding:1px 8px;border-radius:10px;
font-size:12px;font-weight:600}.badge.ok{background:#dff3e4}.badge.bad{background:#fbd5da;color:#b00020}
ul.problems{margin:4px 0 0 16px;padding:0;color:#b00020}
ol.timeline{list-style:none;margin:8px 0;padding:0 0 0 18px;border-left:3px solid #c7c7cc}
ol.timeline li{position:relative;margin:0 0 12px 0;padding-left:10px}
ol.timeline li::before{content:"";position:absolute;left:-27px;top:4px;width:12px;height:12px;
border-radius:50%;background:#0a6b2e}ol.timeline li.bad::before{background:#b00020}
ol.timeline li.rollback::before{background:#a15c00}.when{color:#555;font:12px ui-monospace,monospace}
svg text{font:11px system-ui,sans-serif}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _badge(ok: bool, text: str) -> str:
    return f'<span class="badge {"ok" if ok else "bad"}">{_e(text)}</span>'


def _num(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:.4g}{unit}"


def _aliases(rows: Sequence[AliasView]) -> str:
    if not rows:
        return '<p class="bad">No alias: nothing of this model is in production through signoff.</p>'
    out = ["<table><tr><th>alias</th><th>version</th><th>status</th><th>detail</th></tr>"]
    for a in rows:
        ok = a.status == "backed"
        out.append(
            f'<tr class="{"" if ok else "bad"}"><td><code>{_e(a.alias)}</code></td><td>{_e(a.version)}</td>'
            f"<td>{_badge(ok, a.status.upper() if ok else 'NOT BACKED: ' + a.status.upper())}</td>"
            f"<td>{_e(a.detail)}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def _gates(gates: Sequence[GateView]) -> str:
    out = [
        "<table><tr><th>gate</th><th>owner (contract)</th><th>signed by</th><th>verdict</th>"
        "<th>signed at</th><th>expires</th><th>checks</th></tr>"
    ]
    for g in gates:
        if g.signed_by is None:
            verdict = _badge(False, "NO VERIFIED VERDICT")
        elif g.ok:
            verdict = _badge(True, "PASSED, HOLDS")
        else:
            verdict = _badge(False, ("PASSED" if g.passed else "FAILED") + ", DOES NOT HOLD")
        problems = (
            '<ul class="problems">' + "".join(f"<li>{_e(p)}</li>" for p in g.problems) + "</ul>"
            if g.problems
            else ""
        )
        key = f" <code>key {_e(g.keyid[:12])}</code>" if g.keyid else ""
        out.append(
            f'<tr class="{"" if g.ok else "bad"}"><td><b>{_e(g.gate)}</b></td><td>{_e(g.owner)}</td>'
            f"<td>{_e(g.signed_by or '-')}{key}</td><td>{verdict}{problems}</td>"
            f"<td>{_e(g.issued_at or '-')}</td>"
            f"<td>{_e(g.expires_at or '-')}</td><td>{_e(g.checks)}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def _bound_label(bound: float | None) -> str:
    return "+Inf" if bound is None else f"{bound:g}"


def _histogram_svg(v: VersionView) -> str:
    """Bars per bucket (equal width: the buckets grow roughly geometrically), SLO lines at bounds."""
    hist = list(v.histogram)
    # Trim empty buckets at both ends, keeping the SLO bounds in view.
    keep = {v.slo_p99_ms, v.slo_p50_ms}
    idx = [i for i, (b, c) in enumerate(hist) if c or b in keep]
    if not idx:
        return ""
    hist = hist[max(0, idx[0] - 1) : idx[-1] + 2]
    width, height, left, bottom, top = 960, 260, 48, 40, 18
    n = len(hist)
    bar_w = (width - left - 10) / n
    peak = max(c for _, c in hist) or 1
    parts = [
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="latency histogram">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#888"/>',
        f'<text x="4" y="{top}" fill="#555">requests</text>',
        f'<text x="{left}" y="{height - 6}" fill="#555">latency, ms (bucket upper bound)</text>',
    ]
    for i, (bound, count) in enumerate(hist):
        h = (height - bottom - top) * count / peak
        x = left + i * bar_w
        over = v.slo_p99_ms is not None and (bound is None or bound > v.slo_p99_ms)
        fill = "#d9534f" if over else "#4a7bd0"
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{height - bottom - h:.1f}" width="{bar_w - 4:.1f}" height="{h:.1f}" '
            f'fill="{fill}"><title>le {_bound_label(bound)} ms: {count}</title></rect>'
        )
        if count:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom - h - 3:.1f}" '
                f'text-anchor="middle">{count}</text>'
            )
        parts.append(
            f'<text x="{x + bar_w:.1f}" y="{height - bottom + 14}" text-anchor="middle" fill="#333">'
            f"{_e(_bound_label(bound))}</text>"
        )
    for slo, name, colour in ((v.slo_p99_ms, "P99 SLO", "#b00020"), (v.slo_p50_ms, "P50 SLO", "#a15c00")):
        if slo is None:
            continue
        pos = next((i for i, (b, _) in enumerate(hist) if b is not None and b >= slo), None)
        if pos is None:
            continue
        x = left + (pos + 1) * bar_w
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - bottom}" stroke="{colour}" '
            f'stroke-width="2" stroke-dasharray="6 4"/><text x="{x + 4:.1f}" y="{top + 12}" fill="{colour}">'
            f"{_e(name)} {slo:g} ms</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _probe(v: VersionView) -> str:
    sre = next((g for g in v.gates if g.gate == "sre-readiness"), None)
    if sre is None or sre.signed_by is None:
        return '<p class="bad">No verified SRE verdict: no probe figures to show.</p>'
    rows = [
        ("P99 latency", _num(v.p99_ms, " ms"), _num(v.slo_p99_ms, " ms"),
         v.p99_ms is not None and v.slo_p99_ms is not None and v.p99_ms <= v.slo_p99_ms),
    ]  # fmt: skip
    if v.slo_p50_ms is not None:
        rows.append(
            ("P50 latency", _num(v.p50_ms, " ms"), _num(v.slo_p50_ms, " ms"),
             v.p50_ms is not None and v.p50_ms <= v.slo_p50_ms)
        )  # fmt: skip
    if v.max_cold_start_s is not None:
        rows.append(
            ("cold start", _num(v.cold_start_s, " s"), _num(v.max_cold_start_s, " s"),
             v.cold_start_s is not None and v.cold_start_s <= v.max_cold_start_s)
        )  # fmt: skip
    out = ["<table><tr><th>figure (signed by SRE)</th><th>measured</th><th>contract</th><th></th></tr>"]
    for what, got, want, ok in rows:
        out.append(
            f'<tr class="{"" if ok else "bad"}"><td>{_e(what)}</td><td>{_e(got)}</td><td>{_e(want)}</td>'
            f"<td>{_badge(ok, 'within' if ok else 'NOT WITHIN')}</td></tr>"
        )
    out.append("</table>")
    svg = _histogram_svg(v)
    out.append(
        svg
        if svg
        else '<p class="bad">The SRE verdict carries no latency histogram '
        "(probed before signoff kept one).</p>"
    )
    return "".join(out)


def _timeline(history: Sequence[HistoryView]) -> str:
    if not history:
        return "<p>No promotion or rollback recorded by signoff.</p>"
    out = ['<ol class="timeline">']
    for h in history:
        bad = h.valid is False or h.state != "complete"
        cls = " ".join(c for c in (h.kind, "bad" if bad else "") if c)
        valid = "" if h.valid is None else (" verified" if h.valid else " DOES NOT VERIFY")
        prev = f" (from version {_e(h.previous)})" if h.previous else " (first release)"
        why = f": {_e(h.reason)}" if h.reason else ""
        state = _badge(not bad, h.state + valid)
        out.append(
            f'<li class="{cls}"><span class="when">{_e(h.at)}</span> <b>{_e(h.kind)}</b> to version '
            f"{_e(h.version)}{prev} by {_e(h.by or '?')} {state}{why}</li>"
        )
    out.append("</ol>")
    return "".join(out)


def render_html(report: ModelReport) -> str:
    """The page: aliases (audit), per version its gates and probe, then the alias history timeline."""
    problems = sum(a.status != "backed" for a in report.aliases) + sum(
        not g.ok for v in report.versions for g in v.gates
    )
    summary = (
        _badge(True, "every alias BACKED, every gate holds")
        if problems == 0 and report.aliases
        else _badge(False, f"{problems} thing(s) not backed or not holding")
    )
    body = [
        f"<h1>{_e(report.model)}</h1>",
        f'<p class="sub">workload <b>{_e(report.workload)}</b>, '
        f"contract <code>{_e(report.contract_digest)}</code>"
        f" &middot; generated {_e(report.generated_at)} &middot; {summary}</p>",
        *(f'<p class="bad">{_e(n)}</p>' for n in report.notes),
        "<h2>Aliases</h2>",
        _aliases(report.aliases),
    ]
    for v in report.versions:
        aliases = ", ".join(v.aliases) or "no alias"
        body.append(f"<h2>Version {_e(v.version)} <span class='sub'>({_e(aliases)})</span></h2>")
        body.append(f'<p class="sub">model digest <code>{_e(v.digest or "unknown")}</code></p>')
        body.append("<h3>Gates</h3>")
        body.append(_gates(v.gates))
        body.append("<h3>Staging probe</h3>")
        body.append(_probe(v))
    body.append("<h2>Alias history</h2>")
    body.append(_timeline(report.history))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>signoff report: {_e(report.model)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
