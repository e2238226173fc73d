import pytest


@pytest.fixture
def home(settings, tmp_path):
    """GUANXI_HOME and MEDIA_ROOT in a folder of the test's own."""
    settings.GUANXI_HOME = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return tmp_path
