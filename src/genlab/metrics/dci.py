"""DCI: disentanglement, completeness and informativeness (Eastwood & Williams, "A Framework
for the Quantitative Evaluation of Disentangled Representations", ICLR 2018, Sec. 2), as plain
functions. Conventions follow google-research/disentanglement_lib
``evaluation/metrics/dci.py`` (read, not copied): one classifier per factor predicts the factor
class from the code, its feature importances form the column ``R[:, k]`` of the (D codes x K
factors) importance matrix,

    D_i = 1 - H_K(P_i.),  P_ij = R_ij / sum_k R_ik     (entropy in base K)
    disentanglement = sum_i rho_i D_i,  rho_i = sum_j R_ij / sum_ij R_ij
    C_j = 1 - H_D(P~_.j), P~_ij = R_ij / sum_i R_ij     (entropy in base D)
    completeness = sum_j rho~_j C_j,  rho~_j = sum_i R_ij / sum_ij R_ij

and informativeness is the classifiers' mean accuracy on held-out codes (disentanglement_lib's
``informativeness_test``; Eastwood & Williams report the prediction error, 1 - this).
Classifier: ``random_forest`` (Eastwood & Williams' random-forest importances; the default,
tens of times faster here) or ``gbt`` (disentanglement_lib's GradientBoostingClassifier).
Everything is in [0, 1]; 1 is best.
"""

from __future__ import annotations

import numpy as np

CLASSIFIERS = ("random_forest", "gbt")
EPS = 1e-11  #: added to the importances before the entropies (disentanglement_lib's 1e-11)


def _classifier(kind: str, num_trees: int, seed: int):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

    if kind == "random_forest":
        # every split considers every code dimension (max_features=None): with sqrt(D) random
        # candidates a tree must split on irrelevant dimensions, which blurs the importances
        return RandomForestClassifier(
            n_estimators=num_trees, max_depth=8, max_features=None, random_state=seed
        )
    if kind == "gbt":
        return GradientBoostingClassifier(n_estimators=num_trees, random_state=seed)
    raise ValueError(f"metrics.options.dci_classifier={kind!r}; use one of {'|'.join(CLASSIFIERS)}")


def importance_matrix(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    kind: str = "random_forest",
    num_trees: int = 50,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Fit one classifier per factor; return (importances R (D, K) >= 0, mean test accuracy).

    codes (N, D) float, factors (N, K) integer classes; a factor with one class in the training
    codes gets zero importance and accuracy 1 (nothing to predict)."""
    num_codes, num_factors = codes_train.shape[1], factors_train.shape[1]
    importances = np.zeros((num_codes, num_factors))
    accuracy = []
    for k in range(num_factors):
        if len(np.unique(factors_train[:, k])) < 2:
            accuracy.append(1.0)
            continue
        model = _classifier(kind, num_trees, seed).fit(codes_train, factors_train[:, k])
        importances[:, k] = np.abs(model.feature_importances_)
        accuracy.append(float(np.mean(model.predict(codes_test) == factors_test[:, k])))
    return importances, float(np.mean(accuracy))


def _one_minus_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """1 - entropy of the normalised ``p`` along ``axis``, in base ``p.shape[axis]``."""
    p = p + EPS
    p = p / p.sum(axis=axis, keepdims=True)
    return 1.0 + (p * np.log(p)).sum(axis=axis) / np.log(p.shape[axis])


def disentanglement(importances: np.ndarray) -> float:
    """Importance-weighted mean over codes of 1 - H_K(code's importances), in [0, 1]."""
    per_code = _one_minus_entropy(importances, axis=1)
    total = importances.sum()
    weights = importances.sum(1) / total if total > 0 else np.full(len(per_code), 1 / len(per_code))
    return float(np.sum(per_code * weights))


def completeness(importances: np.ndarray) -> float:
    """Importance-weighted mean over factors of 1 - H_D(factor's importances), in [0, 1]."""
    per_factor = _one_minus_entropy(importances, axis=0)
    total = importances.sum()
    k = len(per_factor)
    weights = importances.sum(0) / total if total > 0 else np.full(k, 1 / k)
    return float(np.sum(per_factor * weights))


def dci(
    codes: np.ndarray,
    factors: np.ndarray,
    train_fraction: float = 0.8,
    kind: str = "random_forest",
    num_trees: int = 50,
    seed: int = 0,
) -> dict[str, float]:
    """DCI of codes (N, D) for factor classes (N, K): the first ``train_fraction`` of the rows
    train the classifiers, the rest measure informativeness. Returns ``disentanglement``,
    ``completeness``, ``informativeness`` (test accuracy), each in [0, 1]."""
    codes, factors = np.asarray(codes, dtype=np.float64), np.asarray(factors)
    cut = int(round(train_fraction * len(codes)))
    if not 1 <= cut < len(codes):
        raise ValueError(
            f"DCI needs training and test codes: {len(codes)} codes with train_fraction="
            f"{train_fraction} leave {cut} for training; use more images or another fraction."
        )
    importances, accuracy = importance_matrix(
        codes[:cut], factors[:cut], codes[cut:], factors[cut:], kind, num_trees, seed
    )
    return {
        "disentanglement": disentanglement(importances),
        "completeness": completeness(importances),
        "informativeness": accuracy,
    }
