module eqops

go 1.21
