"""Studies: each capability as a named study with typed options, a ``run`` and one results layout."""
from wattscale.studies.base import Options, Study, StudyResult
from wattscale.studies.registry import STUDIES, get_study, run_study

__all__ = ["STUDIES", "Options", "Study", "StudyResult", "get_study", "run_study"]
