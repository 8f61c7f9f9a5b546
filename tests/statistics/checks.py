"""The statistical checks of the draws, each a function of the draws alone.

Each check returns a `Result` with its statistic and p-value under the hypothesis that the
draws are what docs/inspections.md says (u uniform on [0, 1) and independent of everything
the service knows; selected exactly when u < probability). The tests reject at `ALPHA`;
test_power.py shows that each check does reject a generator that breaks the hypothesis.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

# The significance level of every check: a correct implementation fails one check with
# probability 0.001 on a fresh set of draws. The draws are fixed (a fixed seed and the
# deterministic VRF), so a given run passes or fails every time: a check cannot be flaky.
ALPHA: Final = 0.001

# Expected counts below this make the chi-squared approximation unreliable; such cells are
# pooled (selection classes, gap tails, hazard bins).
MIN_EXPECTED: Final = 5.0

# Model probabilities are clipped here so that one confident mistake cannot dominate the
# log loss with an infinity; the true probabilities are used as they are.
_EPS: Final = 1e-6

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Result:
    """A check's statistic and p-value, and what a reader needs to judge them."""

    name: str
    statistic: float
    p_value: float
    n: int
    df: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        """Whether the check rejects the hypothesis at ALPHA."""
        return self.p_value < ALPHA

    def __str__(self) -> str:
        df = "" if self.df is None else f", df={self.df}"
        extra = "".join(f", {key}={value}" for key, value in self.details.items())
        figures = f"n={self.n}, statistic={self.statistic:.4g}{df}, p={self.p_value:.4g}"
        return f"{self.name}: {figures}{extra}"


def selection_by_class(probabilities: Sequence[float], selected: Sequence[bool]) -> Result:
    """Chi-squared: the selections in each probability class against its probability.

    Each class (draws with one probability strictly between 0 and 1) contributes Pearson's
    (O - E)^2 / E over its selected and unselected cells, one degree of freedom each.
    Classes whose expected counts fall below MIN_EXPECTED are pooled into one, whose
    statistic is (O - sum p)^2 / sum p(1 - p), also one degree of freedom. Probabilities 0
    and 1 are not random: a draw that went against one (`deterministic_mismatches`) makes
    the p-value 0.
    """
    p = np.asarray(probabilities, dtype=float)
    s = np.asarray(selected, dtype=bool)
    statistic = 0.0
    df = 0
    table: list[tuple[float, int, int, float]] = []
    pooled = np.zeros(len(p), dtype=bool)
    for value in np.unique(p):
        if value in (0.0, 1.0):
            continue
        members = p == value
        n = int(members.sum())
        if n * value < MIN_EXPECTED or n * (1 - value) < MIN_EXPECTED:
            pooled |= members
            continue
        observed = int(s[members].sum())
        expected = n * value
        statistic += (observed - expected) ** 2 / expected
        statistic += (observed - expected) ** 2 / (n - expected)
        df += 1
        table.append((float(value), n, observed, expected))
    if pooled.any():
        mean = float(p[pooled].sum())
        variance = float((p[pooled] * (1 - p[pooled])).sum())
        statistic += (int(s[pooled].sum()) - mean) ** 2 / variance
        df += 1
    mismatches = int(((p == 1.0) & ~s).sum() + ((p == 0.0) & s).sum())
    # A draw that went against probability 0 or 1 is impossible under the hypothesis.
    p_value = 0.0 if mismatches else float(stats.chi2.sf(statistic, df))
    return Result(
        "selection frequency per probability class (chi-squared)",
        statistic,
        p_value,
        len(p),
        df,
        {
            "classes": len(table),
            "pooled_draws": int(pooled.sum()),
            "deterministic_mismatches": mismatches,
            "table": [f"p={v:.3g}: {o}/{n} (expected {e:.1f})" for v, n, o, e in table],
        },
    )


def uniform_chi2(u: Sequence[float], bins: int = 50) -> Result:
    """Chi-squared: u in `bins` equal bins of [0, 1) against equal counts."""
    values = np.asarray(u, dtype=float)
    counts, _ = np.histogram(values, bins=bins, range=(0.0, 1.0))
    result = stats.chisquare(counts)
    return Result(
        f"u uniform on [0, 1), {bins} bins (chi-squared)",
        float(result.statistic),
        float(result.pvalue),
        len(values),
        bins - 1,
        {"out_of_range": int(((values < 0) | (values >= 1)).sum())},
    )


def uniform_ks(u: Sequence[float]) -> Result:
    """Kolmogorov-Smirnov: u against the uniform distribution on [0, 1)."""
    values = np.asarray(u, dtype=float)
    result = stats.kstest(values, "uniform")
    return Result(
        "u uniform on [0, 1) (Kolmogorov-Smirnov)",
        float(result.statistic),
        float(result.pvalue),
        len(values),
    )


def gaps_in_slots(
    sites: Sequence[int], slots: Sequence[int], selected: Sequence[bool]
) -> list[int]:
    """The gaps, in slots, between consecutive visits of each site."""
    last: dict[int, int] = {}
    gaps: list[int] = []
    for site, slot, chosen in zip(sites, slots, selected, strict=True):
        if not chosen:
            continue
        if site in last:
            gaps.append(slot - last[site])
        last[site] = slot
    return gaps


def gaps_geometric(gaps: Sequence[int], p: float) -> Result:
    """Chi-squared: gaps in slots against the geometric law P(k) = (1 - p)^(k - 1) p.

    Bins are k = 1, 2, ... while each expects at least MIN_EXPECTED gaps, then one tail
    bin; p is the slot probability, given and not estimated, so df = bins - 1.
    """
    values = np.asarray(gaps, dtype=int)
    n = len(values)
    observed: list[int] = []
    expected: list[float] = []
    k = 1
    while n * (1 - p) ** k >= MIN_EXPECTED and n * (1 - p) ** (k - 1) * p >= MIN_EXPECTED:
        observed.append(int((values == k).sum()))
        expected.append(n * (1 - p) ** (k - 1) * p)
        k += 1
    observed.append(int((values >= k).sum()))
    expected.append(n * (1 - p) ** (k - 1))
    result = stats.chisquare(observed, expected)
    return Result(
        "gaps between visits in slots against the geometric law (chi-squared)",
        float(result.statistic),
        float(result.pvalue),
        n,
        len(observed) - 1,
        {"mean_gap_slots": round(float(values.mean()), 3), "expected_mean": round(1 / p, 3)},
    )


def gaps_exponential(gaps: Sequence[int], p: float, slot_seconds: int, seed: int = 12) -> Result:
    """Kolmogorov-Smirnov: gaps in seconds against the exponential law.

    Draws are made per slot, so a gap is a whole number k of slots (geometric), and KS
    against a continuous law is invalid for values with ties. Each gap is therefore spread
    uniformly over its last slot, (k - V) * slot_seconds with V uniform on [0, 1) from a
    seeded generator: as if the visit fell anywhere in its slot. That has survival
    (1 - p)^m at every whole m slots, exactly the exponential with rate -ln(1 - p) per slot,
    and interpolates it linearly in between. The distance between the two laws
    (`law_distance`, at most about p^2 / 8) is reported: at p = 0.1 it is about 0.0013, a
    tenth of KS's critical distance at alpha = 0.001 even for 10,000 gaps.
    """
    values = np.asarray(gaps, dtype=float)
    jitter = np.random.default_rng(seed).random(len(values))
    seconds = (values - jitter) * slot_seconds
    rate = -math.log1p(-p) / slot_seconds
    result = stats.kstest(seconds, "expon", args=(0, 1 / rate))
    # The exact law's survival at m + f slots against the exponential's, over a grid.
    f = np.linspace(0.0, 1.0, 101)
    distance = float(np.max(np.abs((1 - p * f) - (1 - p) ** f)))
    return Result(
        "gaps between visits in seconds against the exponential law (Kolmogorov-Smirnov)",
        float(result.statistic),
        float(result.pvalue),
        len(values),
        None,
        {
            "rate_per_hour": round(rate * 3600, 4),
            "law_distance": round(distance, 5),
            "critical_distance": round(float(stats.kstwo.isf(ALPHA, max(len(values), 1))), 5),
        },
    )


# Slots since the last visit, binned: 1, 2, 3-4, 5-8, 9-16, 17-32, 33 and more.
HAZARD_BINS: Final = (1, 2, 3, 5, 9, 17, 33)


def hazard_independence(since_last: Sequence[int], selected: Sequence[bool]) -> Result:
    """Chi-squared contingency: a visit in a slot against the slots since the last visit.

    Under the hypothesis each slot draws anew, so the chance of a visit is the same in every
    bin of time since the last one (no "due" visit, no rest after one). Slots before a
    site's first visit (since_last < 0) have no time since the last visit and are left out;
    trailing bins that expect fewer than MIN_EXPECTED visits are merged.
    """
    since = np.asarray(since_last, dtype=int)
    chosen = np.asarray(selected, dtype=bool)
    keep = since > 0
    since, chosen = since[keep], chosen[keep]
    bin_of = np.searchsorted(np.asarray(HAZARD_BINS), since, side="right") - 1
    rows: list[list[int]] = []
    rate = chosen.mean()
    for index in range(len(HAZARD_BINS)):
        members = bin_of == index
        row = [int(chosen[members].sum()), int((~chosen[members]).sum())]
        if rows and (sum(row) * rate < MIN_EXPECTED or sum(row) * (1 - rate) < MIN_EXPECTED):
            rows[-1] = [rows[-1][0] + row[0], rows[-1][1] + row[1]]
        else:
            rows.append(row)
    while len(rows) > 1 and sum(rows[-1]) * rate < MIN_EXPECTED:
        last = rows.pop()
        rows[-1] = [rows[-1][0] + last[0], rows[-1][1] + last[1]]
    result = stats.chi2_contingency(np.asarray(rows), correction=False)
    return Result(
        "visit in a slot against the time since the last visit (chi-squared contingency)",
        float(result.statistic),
        float(result.pvalue),
        len(since),
        int(result.dof),
        {"visit_rate_per_bin": [round(r[0] / max(sum(r), 1), 4) for r in rows]},
    )


def _log_loss(p: FloatArray, y: NDArray[np.bool_]) -> FloatArray:
    """The log loss of each prediction; a probability of exactly 0 or 1 that came true costs 0."""
    with np.errstate(divide="ignore"):
        return np.where(y, -np.log(p), -np.log1p(-p))


def no_better_than_truth(
    name: str,
    model: Any,
    features: FloatArray,
    truth: FloatArray,
    selected: NDArray[np.bool_],
) -> Result:
    """One-sided paired test: does a model trained on half the draws beat the truth on the other?

    The model is fit on the first half (features -> selected) and predicts the second. Per
    draw d = loss(truth) - loss(model) (log loss): a positive mean means the model predicts
    better than the true probabilities, which it can only do by learning something about u
    beyond them. The statistic is z = mean(d) / (sd(d) / sqrt(n)) and the p-value P(Z >= z);
    the margin the model may beat the truth by unrejected is z_(1-ALPHA) standard errors
    (`margin`, in nats per draw). The true probabilities are the best any predictor can do
    when the draws are right, so the check rejects only a leak.
    """
    half = len(selected) // 2
    model.fit(features[:half], selected[:half])
    predicted = np.clip(model.predict_proba(features[half:])[:, 1], _EPS, 1 - _EPS)
    actual = selected[half:]
    true_p = truth[half:]
    loss_truth = _log_loss(true_p, actual)
    loss_model = _log_loss(predicted, actual)
    d = loss_truth - loss_model
    n = len(d)
    se = float(d.std(ddof=1) / math.sqrt(n))
    z = float(d.mean() / se) if se > 0 else 0.0
    return Result(
        f"{name}: a model predicts no better than the true probabilities (paired log loss)",
        z,
        float(stats.norm.sf(z)),
        n,
        None,
        {
            "log_loss_truth": round(float(loss_truth.mean()), 5),
            "log_loss_model": round(float(loss_model.mean()), 5),
            "margin": round(float(stats.norm.isf(ALPHA)) * se, 5),
            "brier_truth": round(float(((true_p - actual) ** 2).mean()), 5),
            "brier_model": round(float(((predicted - actual) ** 2).mean()), 5),
        },
    )


def gradient_boosting(categorical: Sequence[int] = ()) -> Any:
    """Gradient-boosted trees, fixed seed, columns `categorical` (hour, carrier, ...) as categories.

    Regularised (small leaves count for little) so that with a few thousand draws the
    model's own estimation error does not hide what it finds.
    """
    return HistGradientBoostingClassifier(
        max_iter=100,
        learning_rate=0.05,
        max_leaf_nodes=8,
        min_samples_leaf=100,
        l2_regularization=1.0,
        categorical_features=list(categorical) or None,
        early_stopping=False,
        random_state=12,
    )


def logistic_regression(categorical: Sequence[int]) -> Any:
    """Logistic regression: one-hot columns `categorical` (hour, carrier, ...), the rest scaled."""
    encoder = ColumnTransformer(
        [("onehot", OneHotEncoder(handle_unknown="ignore"), list(categorical))],
        remainder=StandardScaler(),
    )
    return make_pipeline(encoder, LogisticRegression(max_iter=2000))
