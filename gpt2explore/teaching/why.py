"""Why this token, for notebook 09: which components separate two prompts' favourites, and two
caveats of reading a model, each as a table and a figure (attention is not explanation; direct
attribution ignores indirect paths)."""
from __future__ import annotations

import copy
import numbers
from contextlib import contextmanager

import torch

from ..core import formatting as fmt
from ..core import provenance
from ..core.pieces import context_pieces, step_label
from ..figures.style import CHOSEN_COLOR, FIGURE_MAX_PX, KEPT_COLOR, finish, title
from ..model import attribution as A


def _top(top, name: str = "top"):
    if top is not None and (isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1):
        raise ValueError(f"{name} must be a positive integer (or None for every row), got {top!r}")
    return top


def likeliest(step, n: int = 2) -> list[int]:
    """The step's `n` likeliest tokens under its raw logits (ties: the lower id first)."""
    logits = step.require_logits().double().cpu()
    values, ids = torch.topk(logits, min(n, logits.shape[-1]))
    return [i for _, i in sorted(zip(values.tolist(), ids.tolist()), key=lambda vi: (-vi[0], vi[1]))]


def attribution_of(step, token: int, vs: int):
    """Direct logit attribution of logit(token) − logit(vs) at `step`'s position, for any
    `token` (the model layer's attribution explains the step's own token; this asks it about a
    copy of the step whose token is `token`)."""
    other = copy.copy(step)
    other.token = int(token)
    return A.attribution(other, vs=vs)


def rival_pair(step_a, step_b) -> tuple[int, int]:
    """(a, b): step_a's likeliest raw token, and step_b's (its second likeliest when the two agree)."""
    a = likeliest(step_a, 1)[0]
    first, second = likeliest(step_b, 2)
    return a, (second if first == a else first)


def _prompt_name(step, fallback: str) -> str:
    prompt = step.sample.prompt if step.sample is not None else None
    return prompt.split()[-1] if prompt and prompt.split() else fallback


def separating_components(step_a, step_b, top: int | None = 10, labels=None):
    """What separates two prompts' favourites, component by component. a = step_a's likeliest
    raw token, b = step_b's (its second likeliest if they agree); logit(a) − logit(b) is
    attributed in both contexts (the steps should share an index of two prompts drawn with the
    same draws). One row per component: component, layer, head, kind, one contribution column
    per prompt (`labels`, default the prompts' last words), and difference (A − B); sorted by
    |difference|, the `top` rows (None: all). `attrs`: a, b (ids), labels, logit_diff_a,
    logit_diff_b (each the sum of its column over every component) and the two steps' indices."""
    top = _top(top)
    a, b = rival_pair(step_a, step_b)
    name_a, name_b = labels or [_prompt_name(step_a, "A"), _prompt_name(step_b, "B")]
    if name_a == name_b:
        raise ValueError(f"the two prompts need different labels, got {name_a!r} twice")
    in_a, in_b = attribution_of(step_a, a, b), attribution_of(step_b, a, b)
    df = in_a[["component", "layer", "head", "kind"]].copy()
    df[name_a] = in_a["contribution"].to_numpy()
    df[name_b] = in_b["contribution"].to_numpy()
    df["difference"] = df[name_a] - df[name_b]
    order = df["difference"].abs().sort_values(ascending=False, kind="stable").index
    df = df.loc[order].reset_index(drop=True)
    if top is not None:
        df = df.head(top)
    df.attrs.update(a=a, b=b, labels=(name_a, name_b), logit_diff_a=in_a.attrs["sum"],
                    logit_diff_b=in_b.attrs["sum"], steps=(step_a.index, step_b.index))
    return df


def separating_figure(step_a, step_b, top: int = 10, labels=None):
    """Grouped horizontal bars: the `top` components whose direct effect on logit(a) − logit(b)
    differs most between the two prompts, each prompt's contribution side by side, the largest
    difference at the top (separating_components)."""
    import plotly.graph_objects as go

    df = separating_components(step_a, step_b, top, labels)
    name_a, name_b = df.attrs["labels"]
    a, b = (repr(step_label(step_a, t)) for t in (df.attrs["a"], df.attrs["b"]))
    rows = list(df["component"])[::-1]  # the largest difference on top
    fig = go.Figure()
    # plotly stacks a horizontal group from the bottom: B first puts A on top in each group
    for name, color in ((name_b, CHOSEN_COLOR), (name_a, KEPT_COLOR)):
        values = list(df[name])[::-1]
        fig.add_bar(y=rows, x=values, orientation="h", name=f"after {name}", marker_color=color,
                    hovertemplate="<b>%{y}</b><br>direct effect %{x:+.3f}<extra>" + name + "</extra>")
    fig.update_xaxes(title_text=f"direct effect on logit({a}) − logit({b})", zeroline=True, zerolinecolor="#888")
    fig.update_yaxes(type="category", automargin=True)
    height = 250 + 44 * len(rows)
    head, top_px = title(f"What separates {name_a} from {name_b}: {a} over {b} at step {step_a.index}",
                         [f"the {fmt.count(len(rows), 'component')} whose direct effect differs most; logit({a}) − "
                          f"logit({b}): {df.attrs['logit_diff_a']:+.2f} after {name_a}, "
                          f"{df.attrs['logit_diff_b']:+.2f} after {name_b}",
                          "final layer norm's scale frozen per prompt; indirect paths ignored"], width=130,
                         height=height)
    fig.update_layout(barmode="group", title=head, height=height, width=FIGURE_MAX_PX,
                      margin=dict(t=top_px + 50, l=120, b=70), bargap=0.25)
    facts = [provenance.for_step(s, None, "separating_figure") for s in (step_a, step_b)]
    return finish(fig, facts, legend="above", legend_more=dict(traceorder="reversed"),
                  meta={"separating": {"a": df.attrs["a"], "b": df.attrs["b"],
                                       "logit_diff": [df.attrs["logit_diff_a"], df.attrs["logit_diff_b"]]}})


# ---- caveat 1: attention is not explanation ---------------------------------------------------------

def attention_vs_effect(step, vs=None):
    """Per (layer, head): its attention on position 0 (the first token, where many heads park
    attention they do not need: an "attention sink") and the size of its direct effect on
    logit(token) − logit(vs) (attribution). Columns: component, layer, head, first_token
    (weight), effect (signed), abs_effect. Needs a run made with attention=True and its model."""
    import pandas as pd

    att = step.attention()  # (L, H, T)
    df = A.attribution(step, vs)
    heads = df[df["kind"] == "head"]
    rows = [(c, int(layer), int(h), float(att[layer, h, 0]), float(v))
            for c, layer, h, v in zip(heads["component"], heads["layer"], heads["head"], heads["contribution"])]
    out = pd.DataFrame(rows, columns=["component", "layer", "head", "first_token", "effect"])
    out["abs_effect"] = out["effect"].abs()
    out.attrs.update(df.attrs)
    return out


HEAVY = 0.3  # attention on the first token that counts as looking hard at it
LITTLE = 0.5  # a direct effect at most this share of the median head's counts as little


def sink_heads(table, heavy: float = HEAVY, share: float = LITTLE):
    """The heads of an `attention_vs_effect` table that look hard at the first token (weight at
    least `heavy`) yet do little (|effect| at most `share` x the median head's), heaviest first."""
    found = table[(table["first_token"] >= heavy) & (table["abs_effect"] <= _little(table, share))]
    return found.sort_values("first_token", ascending=False)


def _little(table, share: float = LITTLE) -> float:
    return share * float(table["abs_effect"].median())


def _label_groups(table, names, near_x: float, near_y: float) -> list[tuple[float, float, str]]:
    """(x, y, text) labels for the heads `names`: heads whose points (nearly) coincide share one."""
    groups: list[list] = []
    for _, row in table[table["component"].isin(names)].sort_values("first_token").iterrows():
        for g in groups:
            if abs(g[0] - row["first_token"]) <= near_x and abs(g[1] - row["abs_effect"]) <= near_y:
                g[2].append(row["component"])
                break
        else:
            groups.append([row["first_token"], row["abs_effect"], [row["component"]]])
    return [(x, y, ", ".join(sorted(c))) for x, y, c in groups]


def attention_vs_effect_figure(step, vs=None):
    """A scatter, one point per head: attention on the first token (x) against the size of the
    head's direct effect on the step's logit difference (y). The shaded corner holds the heads
    that look hard at the first token and do little there: attention weight is not effect. Named:
    those heads, the heads looking hardest at it, and the three of largest effect (hover: all)."""
    import plotly.graph_objects as go

    t = attention_vs_effect(step, vs)
    first = context_pieces(step)[0].label
    token, other = (repr(step_label(step, i)) for i in (t.attrs["token"], t.attrs["vs"]))
    hover = [f"<b>{c}</b><br>attention on {first!r} {fmt.prob(w)}<br>direct effect {e:+.3f}"
             for c, w, e in zip(t["component"], t["first_token"], t["effect"])]
    top_y = max(float(t["abs_effect"].max()), 1e-6)
    little = _little(t)
    fig = go.Figure(go.Scatter(
        x=list(t["first_token"]), y=list(t["abs_effect"]), mode="markers", hovertext=hover, hoverinfo="text",
        marker=dict(size=10, color=[KEPT_COLOR if e >= 0 else CHOSEN_COLOR for e in t["effect"]],
                    line=dict(width=0.5, color="#333")), showlegend=False, cliponaxis=False))
    # the corner of the caveat: heavy attention on the first token, little direct effect
    fig.add_shape(type="rect", x0=HEAVY, x1=1.04, y0=-0.02 * top_y, y1=little, fillcolor="rgba(120,120,120,0.15)",
                  line=dict(width=0), layer="below")
    sinks = sink_heads(t)
    named = set(sinks["component"]) | set(t[t["first_token"] >= HEAVY]["component"]) | \
        set(t.nlargest(3, "abs_effect")["component"])
    for x, y, text in _label_groups(t, named, near_x=0.03, near_y=0.04 * top_y):
        fig.add_annotation(x=x, y=y, text=text, showarrow=False, yshift=14, font=dict(size=11, color="#444"))
    fig.add_annotation(x=1.03, y=little, xanchor="right", yanchor="bottom", showarrow=False,
                       text="heavy attention, little direct effect", font=dict(size=11, color="#666"))
    fact = (f"{fmt.count(len(sinks), 'head')} ({', '.join(sinks['component'])}) give {first!r} at least "
            f"{HEAVY:.0%} of their attention and have under half the median head's effect (shaded)" if len(sinks) else
            f"no head here gives {first!r} {HEAVY:.0%} of its attention with under half the median head's effect")
    height = 560
    head, top_px = title(f"Attention is not explanation: step {step.index}, {token} over {other}",
                         ["A head can look hard at a token yet barely move the logits directly: attention says what "
                          "a head reads, not what it writes.",
                          fact, f"blue raises {token} over {other}, orange lowers it"], width=130, height=height)
    fig.update_xaxes(title_text=f"attention on the first token, {first!r}", range=[-0.04, 1.04],
                     tickformat=".0%")
    fig.update_yaxes(title_text="|direct effect| on the logit difference", range=[-0.02 * top_y, 1.12 * top_y])
    fig.update_layout(title=head, height=height, width=FIGURE_MAX_PX, margin=dict(t=top_px + 30, b=70))
    return finish(fig, provenance.for_step(step, None, "attention_vs_effect_figure"),
                  meta={"sinks": list(sinks["component"])})


# ---- caveat 2: direct attribution ignores indirect paths -------------------------------------------------

def attention_outputs(model) -> list:
    """Each block's attention output projection (GPT-2: h[i].attn.c_proj), whose output is the
    attention's whole output (in eval mode; dropout is off), as model.attribution finds them."""
    parts = A.parts_of(model)
    if "attn_out" in parts:  # the family table's layout
        return list(parts["attn_out"])
    return [parts[f"transformer.h[{i}].attn.c_proj"] for i in range(len(parts["transformer.h"]))]


@contextmanager
def ablated_attention(model, layer: int):
    """For the length of a `with` block, block `layer`'s attention writes zeros: its output (the
    output projection's, its bias included) replaced at every position. The hook is global state
    on the module; it is removed in `finally`, also when the block raises."""
    outs = attention_outputs(model)
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 0 <= layer < len(outs):
        raise ValueError(f"layer must be an integer in 0..{len(outs) - 1}, got {layer!r}")

    def zero(module, args, output):
        return torch.zeros_like(output)

    handle = outs[layer].register_forward_hook(zero)
    try:
        yield
    finally:
        handle.remove()


def _logit_diff(model, ids, token: int, vs: int) -> float:
    with torch.inference_mode():
        logits = model(input_ids=ids, use_cache=False).logits[0, -1].double()  # (V,)
    return float(logits[token] - logits[vs])


def direct_vs_total(step, vs=None):
    """Per layer: the DIRECT attribution of its attention (heads and c_proj bias, attribution_by_layer)
    against its TOTAL effect, measured by zero-ablating that layer's attention output at every
    position and re-running the model on the step's context: total = logit diff − logit diff
    without it, for logit(token) − logit(vs). indirect = total − direct: what the layer does
    through the layers after it (and through the final layer norm's scale). One forward pass
    per layer, plus one clean."""
    import pandas as pd

    direct = A.attribution_by_layer(A.attribution(step, vs))
    token, vs = direct.attrs["token"], direct.attrs["vs"]
    model = A.attribution_lm(step).model
    device = next(model.parameters()).device
    ids = torch.tensor([step.context_tokens], dtype=torch.long, device=device)  # (1, T)
    clean = _logit_diff(model, ids, token, vs)
    totals = []
    for layer in direct["layer"]:
        with ablated_attention(model, int(layer)):
            totals.append(clean - _logit_diff(model, ids, token, vs))
    out = pd.DataFrame({"layer": direct["layer"], "direct": direct["attn"], "total": totals})
    out["indirect"] = out["total"] - out["direct"]
    out.attrs.update(direct.attrs, clean_logit_diff=clean)
    return out


def direct_vs_total_figure(step, vs=None):
    """Grouped bars per layer: the direct attribution of the layer's attention beside its total
    effect (zero-ablation), on logit(token) − logit(vs); where they part, the layer works through
    the layers after it."""
    import plotly.graph_objects as go

    t = direct_vs_total(step, vs)
    token, other = (repr(step_label(step, i)) for i in (t.attrs["token"], t.attrs["vs"]))
    layers = [f"layer {int(x)}" for x in t["layer"]]
    fig = go.Figure()
    for column, name, color in (("direct", "direct attribution", KEPT_COLOR),
                                ("total", "total effect (zero-ablated)", CHOSEN_COLOR)):
        fig.add_bar(x=layers, y=list(t[column]), name=name, marker_color=color,
                    text=[f"{v:+.2f}" for v in t[column]], textposition="outside", cliponaxis=False,
                    textfont=dict(size=11), hovertemplate="<b>%{x}</b><br>" + name + " %{y:+.3f}<extra></extra>")
    worst = t.loc[t["indirect"].abs().idxmax()]
    values = list(t["direct"]) + list(t["total"]) + [0.0]
    pad = 0.15 * max(max(values) - min(values), 1e-6)
    height = 540
    head, top_px = title(f"Direct attribution ignores indirect paths: step {step.index}, {token} over {other}",
                         ["Direct attribution counts only what a layer's attention writes straight into the final "
                          "residual stream; zeroing it also changes what every later layer reads.",
                          f"each layer's attention, on logit({token}) − logit({other}); they part most at layer "
                          f"{int(worst['layer'])}: direct {worst['direct']:+.2f}, total {worst['total']:+.2f}"],
                         width=110, height=height)
    fig.update_yaxes(title_text=f"effect on logit({token}) − logit({other})", zeroline=True, zerolinecolor="#888",
                     range=[min(values) - pad, max(values) + pad])
    fig.update_layout(barmode="group", title=head, height=height, width=FIGURE_MAX_PX,
                      margin=dict(t=top_px + 40, b=70))
    return finish(fig, provenance.for_step(step, None, "direct_vs_total_figure"), legend="above",
                  meta={"direct_vs_total": {"layer": [int(x) for x in t["layer"]], "direct": list(t["direct"]),
                                            "total": list(t["total"])}})
