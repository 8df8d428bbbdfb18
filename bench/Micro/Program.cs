using BenchmarkDotNet.Running;
using Distributed.Bench.Micro;

// dotnet run -c Release --project bench/Micro -- --filter '*'   (add --job short for a quick look)
BenchmarkSwitcher.FromAssembly(typeof(RoutingDecisionBenchmarks).Assembly).Run(args);
