"""The acceptance fixture: the seed report (HSP/EB.2022/8, Chinese) as Markdown and as DOCX.

The converter lives in ``portal.demo.seed_report`` (the demo data set imports the same report);
the review tests import it from here.
"""

from portal.demo.seed_report import SEED_PATH, Line, outline, seed_text, to_docx, to_markdown

__all__ = ["SEED_PATH", "Line", "outline", "seed_text", "to_docx", "to_markdown"]
