"""How well penultimate embeddings cluster by class: NMI of k-means clusters vs labels."""

from __future__ import annotations

from neurozoo.evaluation.context import requires


@requires(embeddings=True)
def nmi(ctx, n_init: int = 10, seed: int = 0) -> dict[str, float]:
    """k-means with k = number of classes on the embeddings, normalised mutual information of the
    cluster assignment with the true labels (scikit-learn; arithmetic normalisation)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    out = ctx.outputs()
    clusters = KMeans(n_clusters=ctx.num_classes, n_init=n_init, random_state=seed).fit_predict(
        out.embeddings.numpy()
    )
    return {"nmi": float(normalized_mutual_info_score(out.targets.numpy(), clusters))}
