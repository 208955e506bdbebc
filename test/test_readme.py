"""The docs' Gymnasium snippet runs and prints what the docs say it prints; README shows the two commands first."""
import contextlib
import io
import re

from helpers import REPO_ROOT


def test_the_gymnasium_snippet_runs_as_shown():
    text = (REPO_ROOT / 'docs' / 'learners.md').read_text()
    section = text[text.index('## For RL users'):text.index('## Learners: SAC-PER')]
    code = re.search(r'```python\n(.*?)```', section, re.S).group(1)
    printed = re.search(r'It prints `(.*?)`', section).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, 'docs/learners.md', 'exec'), {})
    assert out.getvalue().strip() == printed


def test_readme_is_short_and_starts_with_the_two_commands():
    text = (REPO_ROOT / 'README.md').read_text()
    assert len(text.splitlines()) < 300
    first = text.index('```bash')
    assert text[first:text.index('```', first + 3)].count('make ') == 2 and text.index('## The two commands') < first
    for page in re.findall(r'\]\((docs/[^)#]+)', text):   # every page README links to exists
        assert (REPO_ROOT / page).exists(), page
