"""Figure builders: steps and samples in, plotly figures out. Nothing here displays anything.

Data functions (`bars_data`, `sweep_data`, `divergences`) are plain: the figures and the
widgets are both drawn from them, so what the widgets show is what the tests check.
"""
from __future__ import annotations

import math

import torch

from . import provenance, sampling
from .trace import show_token

FONT = dict(family="Helvetica, Arial, sans-serif", size=14, color="#222")
RAW_COLOR, KEPT_COLOR, CUT_COLOR, CHOSEN_COLOR = "#9db7d5", "#1f5fa8", "#d0d0d0", "#d9541e"


def template():
    """The print-friendly look every figure shares: white, readable, no clutter."""
    import plotly.graph_objects as go

    return go.layout.Template(layout=dict(
        font=FONT, paper_bgcolor="white", plot_bgcolor="white", bargap=0.15,
        margin=dict(l=80, r=20, t=80, b=80), hoverlabel=dict(font_size=13),
        xaxis=dict(showline=True, linecolor="#444", ticks="outside", gridcolor="#eee"),
        yaxis=dict(showline=True, linecolor="#444", ticks="outside", gridcolor="#e5e5e5", zeroline=False),
        legend=dict(x=0.99, y=0.99, xanchor="right", yanchor="top", bgcolor="rgba(255,255,255,0.85)"),
    ))


def token_label(step_or_decode, token_id: int) -> str:
    decode = step_or_decode.decode if hasattr(step_or_decode, "decode") else step_or_decode
    return show_token(decode(token_id))


def settings_text(settings) -> str:
    t = "greedy (T=0)" if settings.temperature == 0 else f"T={settings.temperature:g}"
    k = "no top-k" if settings.top_k == 0 else f"top-k={settings.top_k}"
    p = "no top-p" if settings.top_p >= 1 else f"top-p={settings.top_p:g}"
    return f"{t}, {k}, {p}, {settings.semantics} rules"


def bars_data(step, temperature=None, top_k=None, top_p=None, semantics=None, n: int = 20) -> dict:
    """The top-n tokens of a step (by raw logit) with both distributions, as host lists."""
    settings = step.settings_for(temperature, top_k, top_p, semantics)
    logits = step.require_logits().float()
    probs = sampling.probabilities(logits, **settings.as_dict())  # (V,)
    raw = logits.softmax(-1)
    n = min(n, logits.shape[-1])
    ids = torch.topk(logits, n).indices
    kept = probs[ids] > 0
    chosen_p = float(probs[step.token]) if step.token >= 0 else None
    return {
        "ids": ids.tolist(),
        "labels": [token_label(step, i) for i in ids.tolist()],
        "logits": logits[ids].tolist(),
        "raw": raw[ids].tolist(),
        "probs": probs[ids].tolist(),
        "kept": kept.tolist(),
        "n_kept": int(sampling.nucleus_size(probs)),
        "entropy": float(sampling.entropy(probs)),
        "entropy_raw": float(sampling.entropy(raw)),
        "token": step.token,
        "token_prob": chosen_p,
        "settings": settings,
    }


def _bar_colors(data) -> list[str]:
    return [CHOSEN_COLOR if i == data["token"] else (KEPT_COLOR if k else CUT_COLOR)
            for i, k in zip(data["ids"], data["kept"])]


def _hover(data) -> list[list]:
    return [[i, lg, r, p, rank + 1] for rank, (i, lg, r, p) in
            enumerate(zip(data["ids"], data["logits"], data["raw"], data["probs"]))]


def _cutoff_x(data) -> float | None:
    """Where the cut-off line goes: between the last kept and the first cut bar, if shown."""
    kept = data["kept"]
    if all(kept) or not any(kept):
        return None
    return kept.index(False) - 0.5


def bars_title(step, data) -> str:
    tok = "" if data["token"] < 0 else f" · drawn: {token_label(step, data['token'])!r}"
    p = "" if data["token_prob"] is None else f" (p={data['token_prob']:.3f} under these settings)"
    return (f"Next token at step {step.index} · {settings_text(data['settings'])}<br>"
            f"<sup>{data['n_kept']:,} tokens kept · entropy {data['entropy']:.2f} nats{tok}{p}</sup>")


def next_token_bars(step, temperature=None, top_k=None, top_p=None, semantics=None, n: int = 20):
    """Bars of a step's top-n tokens: the model's own distribution (softmax of raw logits)
    beside the distribution after the settings. Cut tokens are grey, the cut-off is a dashed
    line, the drawn token is orange. None = the step's own settings."""
    import plotly.graph_objects as go

    data = bars_data(step, temperature, top_k, top_p, semantics, n)
    x = list(range(len(data["ids"])))
    hover = ("<b>%{customdata[4]}. %{text}</b><br>id %{customdata[0]}<br>logit %{customdata[1]:.3f}"
             "<br>model p %{customdata[2]:.4f}<br>after settings p %{customdata[3]:.4f}<extra></extra>")
    fig = go.Figure(layout=dict(template=template()))
    fig.add_bar(name="model (softmax of raw logits)", x=x, y=data["raw"], marker_color=RAW_COLOR,
                text=data["labels"], textposition="none", customdata=_hover(data), hovertemplate=hover)
    fig.add_bar(name="after settings (what is sampled)", x=x, y=data["probs"],
                marker=dict(color=_bar_colors(data), line=dict(color="#333", width=0.5)),
                text=data["labels"], textposition="none", customdata=_hover(data), hovertemplate=hover)
    fig.update_layout(title=bars_title(step, data), barmode="group", yaxis_title="probability",
                      xaxis=dict(tickmode="array", tickvals=x, ticktext=data["labels"], tickangle=-45),
                      height=460)
    _set_cutoff(fig, data)
    fig.layout.meta = {"gpt2explore": provenance.for_step(step, data["settings"], "next_token_bars")}
    return fig


def _set_cutoff(fig, data) -> None:
    cut = _cutoff_x(data)
    shapes = [] if cut is None else [dict(type="line", x0=cut, x1=cut, yref="paper", y0=0, y1=1,
                                          line=dict(color="#888", dash="dash", width=1.5))]
    fig.layout.shapes = shapes


def update_bars(fig, step, temperature=None, top_k=None, top_p=None, semantics=None, n: int = 20) -> dict:
    """Re-draw a `next_token_bars` figure (or FigureWidget) in place for new settings."""
    data = bars_data(step, temperature, top_k, top_p, semantics, n)
    x = list(range(len(data["ids"])))
    raw, after = fig.data[0], fig.data[1]
    raw.x, raw.y, raw.text, raw.customdata = x, data["raw"], data["labels"], _hover(data)
    after.x, after.y, after.text, after.customdata = x, data["probs"], data["labels"], _hover(data)
    after.marker.color = _bar_colors(data)
    fig.layout.xaxis.tickvals, fig.layout.xaxis.ticktext = x, data["labels"]
    fig.layout.title.text = bars_title(step, data)
    _set_cutoff(fig, data)
    fig.layout.meta = {"gpt2explore": provenance.for_step(step, data["settings"], "next_token_bars")}
    return data


def sweep_data(step, temperatures=None, n: int = 8, top_k=None, top_p=None, semantics=None) -> dict:
    """How the top tokens' probabilities, entropy and nucleus size move with temperature."""
    if temperatures is None:
        temperatures = [round(0.05 * 1.1 ** i, 4) for i in range(45)]  # 0.05 .. ~3.6
    logits = step.require_logits().float()
    ids = torch.topk(logits, n).indices
    rows = []
    for t in temperatures:
        settings = step.settings_for(t, top_k, top_p, semantics)
        probs = sampling.probabilities(logits, **settings.as_dict())
        rows.append((probs[ids].tolist(), float(sampling.entropy(probs)), int(sampling.nucleus_size(probs))))
    return {"temperatures": list(temperatures), "ids": ids.tolist(),
            "labels": [token_label(step, i) for i in ids.tolist()],
            "probs": [r[0] for r in rows], "entropy": [r[1] for r in rows], "nucleus": [r[2] for r in rows]}


def temperature_sweep(step, temperatures=None, n: int = 8, top_k=None, top_p=None, semantics=None):
    """Three panels over temperature: top tokens' probabilities, entropy, tokens kept."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    d = sweep_data(step, temperatures, n, top_k, top_p, semantics)
    fig = make_subplots(rows=1, cols=3, subplot_titles=("top tokens' probability", "entropy (nats)",
                                                        "tokens kept (non-zero p)"))
    for j, label in enumerate(d["labels"]):
        fig.add_trace(go.Scatter(x=d["temperatures"], y=[p[j] for p in d["probs"]], name=label,
                                 mode="lines"), row=1, col=1)
    fig.add_trace(go.Scatter(x=d["temperatures"], y=d["entropy"], name="entropy", mode="lines",
                             line=dict(color="#333"), showlegend=False), row=1, col=2)
    fig.add_trace(go.Scatter(x=d["temperatures"], y=d["nucleus"], name="tokens kept", mode="lines",
                             line=dict(color="#333"), showlegend=False), row=1, col=3)
    fig.update_xaxes(type="log", title_text="temperature")
    fig.update_yaxes(type="log", row=1, col=3)
    fig.update_layout(template=template(), height=420,
                      title=f"Temperature at step {step.index} (from stored logits; no model call)",
                      legend=dict(orientation="v", x=1.02, y=1, xanchor="left", yanchor="top"))
    fig.layout.meta = {"gpt2explore": provenance.for_step(step, step.settings_for(None, top_k, top_p, semantics),
                                                          "temperature_sweep")}
    return fig


def generation_overview(sample, temperature=None, top_k=None, top_p=None, semantics=None):
    """The generated tokens as bars coloured by the probability of the chosen token, with the
    entropy of each step's distribution as a line."""
    import plotly.graph_objects as go

    labels, chosen, ent = [], [], []
    for step in sample.steps:
        probs = step.distribution(temperature, top_k, top_p, semantics)
        labels.append(token_label(step, step.token))
        chosen.append(float(probs[step.token]))
        ent.append(float(sampling.entropy(probs)))
    x = list(range(len(labels)))
    fig = go.Figure(layout=dict(template=template()))
    fig.add_bar(x=x, y=chosen, name="p(chosen token)", text=labels, textposition="none",
                marker=dict(color=chosen, colorscale="Viridis", cmin=0, cmax=1,
                            colorbar=dict(title="p", x=1.08)),
                hovertemplate="step %{x}: <b>%{text}</b><br>p %{y:.3f}<extra></extra>")
    fig.add_scatter(x=x, y=ent, name="entropy (nats)", yaxis="y2", mode="lines+markers",
                    line=dict(color="#d9541e"))
    prompt = (sample.prompt or "<|endoftext|>")
    fig.update_layout(title=f"Generated after {prompt[:60]!r}", height=420,
                      xaxis=dict(tickmode="array", tickvals=x, ticktext=labels, tickangle=-60),
                      yaxis=dict(title="p(chosen token)", range=[0, 1]),
                      yaxis2=dict(title="entropy (nats)", overlaying="y", side="right", showgrid=False))
    if sample.steps:
        first = sample.steps[0]
        fig.layout.meta = {"gpt2explore": provenance.for_step(
            first, first.settings_for(temperature, top_k, top_p, semantics), "generation_overview")}
    return fig


def divergences(p: torch.Tensor, q: torch.Tensor) -> dict:
    """KL(p||q), KL(q||p) and Jensen–Shannon (nats) between two distributions."""
    p, q = p.double(), q.double()
    m = 0.5 * (p + q)

    def kl(a, b):
        mask = a > 0
        if bool((b[mask] == 0).any()):
            return math.inf
        return float((a[mask] * (a[mask].log() - b[mask].log())).sum())

    return {"kl_pq": kl(p, q), "kl_qp": kl(q, p), "js": 0.5 * kl(p, m) + 0.5 * kl(q, m)}


def _first_steps(items) -> list:
    steps = []
    for item in items:
        if hasattr(item, "distribution"):
            steps.append(item)
        elif hasattr(item, "samples"):
            steps.append(item.samples[0].steps[0])
        else:
            steps.append(item.steps[0])
    return steps


def compare_next_token(items, labels=None, temperature=None, top_k=None, top_p=None, semantics=None,
                       n: int = 12):
    """Next-token distributions of several prompts on one figure, with KL and JS stated.
    `items`: steps, samples (their first step) or runs (their first sample's first step)."""
    import plotly.graph_objects as go

    steps = _first_steps(items)
    labels = labels or [repr(s.sample.prompt) if s.sample is not None else f"#{i}" for i, s in enumerate(steps)]
    dists = [s.distribution(temperature, top_k, top_p, semantics) for s in steps]
    union = []
    for d in dists:
        for i in torch.topk(d, min(n, d.numel())).indices.tolist():
            if i not in union:
                union.append(i)
    union.sort(key=lambda i: -max(float(d[i]) for d in dists))
    union = union[: max(n, 1) * 2]
    ticks = [token_label(steps[0], i) for i in union]
    fig = go.Figure(layout=dict(template=template()))
    for label, d in zip(labels, dists):
        fig.add_bar(name=label, x=list(range(len(union))), y=d[union].tolist(), text=ticks,
                    textposition="none", hovertemplate="<b>%{text}</b><br>p %{y:.4f}<extra>" + label + "</extra>")
    facts = []
    for j in range(1, len(dists)):
        dv = divergences(dists[0], dists[j])
        kl = "∞" if math.isinf(dv["kl_pq"]) else f"{dv['kl_pq']:.3f}"
        facts.append(f"{labels[0]} vs {labels[j]}: JS {dv['js']:.3f}, KL {kl} nats")
    settings = steps[0].settings_for(temperature, top_k, top_p, semantics)
    fig.update_layout(barmode="group", height=460, yaxis_title="probability",
                      title=f"Next token after each prompt · {settings_text(settings)}<br><sup>"
                            + "; ".join(facts) + "</sup>",
                      xaxis=dict(tickmode="array", tickvals=list(range(len(union))), ticktext=ticks,
                                 tickangle=-45))
    fig.layout.meta = {"divergences": [divergences(dists[0], d) for d in dists[1:]],
                       "gpt2explore": [provenance.for_step(s, settings, "compare_next_token") for s in steps]}
    return fig


def log_ratio_table(step_a, step_b, n: int = 10, temperature=None, top_k=None, top_p=None, semantics=None):
    """Tokens that prompt A makes likelier than prompt B, ranked by log(p_A / p_B) (a DataFrame).
    Only tokens possible under both (p > 0) and with p_A >= 1e-4 are listed."""
    import pandas as pd

    pa = step_a.distribution(temperature, top_k, top_p, semantics).double()
    pb = step_b.distribution(temperature, top_k, top_p, semantics).double()
    both = (pa > 0) & (pb > 0)
    ratio = torch.where(both, pa.log() - pb.log(), torch.full_like(pa, -math.inf))
    # only tokens with some weight in A, so the list is about what A actually says
    ratio = torch.where(pa >= 1e-4, ratio, torch.full_like(pa, -math.inf))
    ids = [i for i in torch.topk(ratio, n).indices.tolist() if math.isfinite(float(ratio[i]))]
    return pd.DataFrame({"token": [show_token(step_a.decode(i)) for i in ids], "id": ids,
                         "p_a": pa[ids].tolist(), "p_b": pb[ids].tolist(),
                         "log_ratio": ratio[ids].tolist()})
