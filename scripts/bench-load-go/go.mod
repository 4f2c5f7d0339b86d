module kes-ts/bench-load-go

go 1.21
