"""hack/build-kube-apiserver.sh takes the Debian archive from the machine's own apt sources
(deb822 `*.sources` and classic `sources.list`/`*.list`), never a hard-coded one, and stops
with a clear message when there is none."""
import subprocess


def mirror(root, etc):
    return subprocess.run([str(root / "hack" / "build-kube-apiserver.sh"), "--print-mirror"],
                          env={"PATH": "/usr/bin:/bin", "EBI_APT_ETC": str(etc), "HOME": "/nonexistent"},
                          capture_output=True, text=True)


def test_classic_sources_list(root, tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb http://security.example/debian-security bookworm-security main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian bookworm main\n")
    got = mirror(root, tmp_path)
    assert got.returncode == 0 and got.stdout.strip() == "http://mirror.example/debian", got


def test_deb822_sources_skip_disabled_and_security_entries(root, tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nEnabled: no\nURIs: http://disabled.example/debian\nSuites: bookworm\n\n"
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n")
    (tmp_path / "sources.list.d" / "other.list.disabled").write_text("deb http://ignored.example/debian bookworm main\n")
    got = mirror(root, tmp_path)
    assert got.returncode == 0 and got.stdout.strip() == "http://mirror.example/debian", got


def test_no_configured_archive_is_a_clear_error(root, tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    got = mirror(root, tmp_path)
    assert got.returncode != 0 and got.stdout == ""
    assert "no Debian archive in this machine's apt sources" in got.stderr
    assert "KUBEBUILDER_ASSETS" in got.stderr
