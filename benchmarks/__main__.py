"""`python -m benchmarks`: run the benchmark."""

from .run import main

raise SystemExit(main())
