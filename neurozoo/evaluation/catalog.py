"""Hook implementations registering the shared metrics (the protocol: ``neurozoo.evaluation``).

Heavy libraries (scikit-learn, torchattacks) are imported inside each ``compute``, so loading
the registry stays cheap.
"""

from neurozoo import Metric, hookimpl
from neurozoo.evaluation import accuracy, attacks, calibration, clustering, corruption

METRICS = (
    Metric("top1", accuracy.top1, "top-1 accuracy", accuracy=True),
    Metric("exact_set", accuracy.exact_set,
           "multi-label exact-set accuracy: the k labels present are the k highest logits",
           tasks=("multilabel",), accuracy=True),
    Metric("nmi", clustering.nmi, "NMI of k-means (k = classes) on penultimate embeddings vs labels"),
    Metric("ece", calibration.ece, "expected calibration error of the max-softmax confidence (15 bins)",
           higher_is_better=False),
    Metric("misclassification_auroc", calibration.misclassification_auroc,
           "AUROC of max-softmax confidence for detecting misclassified inputs"),
    Metric("corruption", corruption.corruption,
           "accuracy under each data-layer corruption (CIFAR-10-C severities) and a Gaussian-noise sigma sweep",
           tasks=("multiclass", "multilabel"), accuracy=True),
    Metric("pgd_linf", attacks.pgd_linf, "accuracy under PGD at Linf budgets (torchattacks)", accuracy=True),
    Metric("pgd_l2", attacks.pgd_l2, "accuracy under PGD at L2 budgets (torchattacks)", accuracy=True),
    Metric("apgd_ce", attacks.apgd_ce, "accuracy under APGD-CE at Linf and L2 budgets (torchattacks)",
           accuracy=True),
    Metric("apgd_t", attacks.apgd_t, "accuracy under targeted APGD-DLR at Linf and L2 budgets (torchattacks)",
           accuracy=True),
    Metric("apgd", attacks.apgd,
           "accuracy under AutoAttack's APGD pair (APGD-CE, then APGD-T on what it left) at Linf and L2 budgets",
           accuracy=True),
    Metric("deepfool", attacks.deepfool, "DeepFool robustness score mean ||r||/||x|| (torchattacks)"),
)


@hookimpl
def register_metrics(register):
    for metric in METRICS:
        register(metric)
