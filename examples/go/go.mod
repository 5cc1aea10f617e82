module eqops-example

go 1.21

require eqops v0.0.0

replace eqops => ../../bindings/go
