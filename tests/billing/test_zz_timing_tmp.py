import time, cProfile, pstats, io
import pytest
from billing import documents
from tests.billing.test_documents import invoice  # noqa: F401

pytestmark = pytest.mark.django_db


def test_time(invoice) -> None:  # noqa: F811
    documents.invoice_pdf(invoice)
    t = time.perf_counter()
    for _ in range(10):
        documents.invoice_pdf(invoice)
    per = (time.perf_counter() - t) / 10
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(5):
        documents.invoice_pdf(invoice)
    prof.disable()
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(40)
    open("/tmp/pdfprof.txt", "w").write(f"per {per*1000:.0f} ms\n" + s.getvalue())
    assert per > 0
