# Shell helpers shared by the scripts (sourced, not run).

# pip_install ARGS...: python3 -m pip install into the python3 on PATH. Debian's own python3
# is "externally managed": install beside the Debian packages as pip explains; without write
# access to site-packages, install for the user.
pip_install() {
  local args=(install --quiet --disable-pip-version-check)
  python3 -c 'import os, sys, sysconfig; sys.exit(0 if os.path.exists(os.path.join(
      sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)' &&
    args+=(--break-system-packages)
  python3 -c 'import os, sys, sysconfig; sys.exit(0 if os.access(sysconfig.get_path(
      "purelib"), os.W_OK) else 1)' || args+=(--user)
  python3 -m pip "${args[@]}" "$@"
}

# The Go of this kind of machine lives in /usr/local/go, which a login shell may not have on
# PATH yet.
[ -x /usr/local/go/bin/go ] && case ":$PATH:" in *:/usr/local/go/bin:*) ;; *)
  export PATH="$PATH:/usr/local/go/bin" ;; esac
