"""metaprop: meta-analysis of single proportions that agrees with R's metafor.

Two steps, as metafor: effect sizes (:func:`escalc`), then the model (:func:`meta_prop`
for counts, :func:`meta_analysis` for generic effect sizes), which returns a
:class:`MetaResult`.
"""

from metaprop._version import __version__
from metaprop.batch import BatchResult, fit_batch
from metaprop.bayes import BayesResult, meta_prop_bayes
from metaprop.bootstrap import BootstrapResult, bootstrap
from metaprop.effects import (
    EffectSizes,
    escalc,
    estimates_to_effects,
    study_ci,
)
from metaprop.glmm import GlmmResult, meta_prop_glmm
from metaprop.glmm_regression import GlmmRegressionResult, meta_regression_glmm
from metaprop.gosh import GoshResult, gosh
from metaprop.model import (
    meta_analysis,
    meta_prop,
)
from metaprop.plotting import (
    forest_plot,
    funnel_plot,
    leave_one_out_plot,
    subgroup_forest_plot,
)
from metaprop.profile import tau2_profile_ci
from metaprop.results import (
    Interval,
    LeaveOneOutResult,
    MetaResult,
)
from metaprop.sensitivity import cumulative, leave_one_out
from metaprop.smallstudy import (
    EggerResult,
    RankTestResult,
    TrimFillResult,
    begg_test,
    egger_test,
    trim_and_fill,
)
from metaprop.subgroups import (
    ModeratorTest,
    SubgroupResult,
    TestResult,
    subgroup_analysis,
)
from metaprop.transforms import (
    back_transform,
    transform,
)

__all__ = [
    # version
    "__version__",
    # effect sizes
    "EffectSizes",
    "escalc",
    "estimates_to_effects",
    "study_ci",
    # fitting
    "meta_analysis",
    "meta_prop",
    "meta_prop_glmm",
    "GlmmResult",
    "GlmmRegressionResult",
    "meta_regression_glmm",
    "tau2_profile_ci",
    # Bayesian binomial-normal model (issue 21)
    "BayesResult",
    "meta_prop_bayes",
    # sensitivity and small-study effects
    "EggerResult",
    "RankTestResult",
    "TrimFillResult",
    "begg_test",
    "cumulative",
    "egger_test",
    "leave_one_out",
    "trim_and_fill",
    # plots
    "forest_plot",
    "funnel_plot",
    "leave_one_out_plot",
    "subgroup_forest_plot",
    # many fits: batch, GOSH, bootstrap (issue 14)
    "BatchResult",
    "BootstrapResult",
    "GoshResult",
    "bootstrap",
    "fit_batch",
    "gosh",
    # results
    "Interval",
    "LeaveOneOutResult",
    "MetaResult",
    # subgroups
    "ModeratorTest",
    "SubgroupResult",
    "TestResult",
    "subgroup_analysis",
    # transformations
    "back_transform",
    "transform",
]
