"""The parts of scripts/testenv (see its help): shared helpers, PostgreSQL, Kubernetes."""
