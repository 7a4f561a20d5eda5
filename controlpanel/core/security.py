"""Keep vendor keys out of error pages and error e-mails.

Django's default filter hides *settings* whose names look secret, and locals only of
functions decorated with ``@sensitive_variables``. Adapters under ``providers/`` may
not import Django, so this filter also hides every local variable, in every frame,
whose name looks like it holds a credential or request headers.
"""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

SENSITIVE_LOCAL = re.compile(r"key|token|secret|passw|authoriz|headers|credential|fernet|cipher", re.IGNORECASE)


class PanelExceptionReporterFilter(SafeExceptionReporterFilter):
    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> list[tuple[str, Any]]:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [
            (name, self.cleansed_substitute if SENSITIVE_LOCAL.search(name) else value) for name, value in variables
        ]
