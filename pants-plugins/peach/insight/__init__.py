"""The inspection goals' core, with no Pants imports: `show` (every package an environment installs,
direct with its provenance or transitive with what pulls it in), `why` (why one package is there, at
which version, through which paths), `drift` (packages at different versions across a codops'
environments) and the lock-changes report.

The rooms: `view` (EnvironmentView and what its lock installs on one platform), `show`, `why`,
`drift`, `changes` (lock changes), `sizes` (what each package and environment weighs on the image,
from the lock's records; exclusive dependencies; size budgets), `render` (text and JSON). Import from
the modules: the functions `show`, `why` and `drift` share their modules' names.
"""
