"""README's Gymnasium snippet runs and prints what README says it prints."""
import contextlib
import io
import re

from helpers import REPO_ROOT


def test_the_gymnasium_snippet_runs_as_shown():
    text = (REPO_ROOT / 'README.md').read_text()
    section = text[text.index('## For RL users'):text.index('## Learners')]
    code = re.search(r'```python\n(.*?)```', section, re.S).group(1)
    printed = re.search(r'It prints `(.*?)`', section).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, 'README.md', 'exec'), {})
    assert out.getvalue().strip() == printed
