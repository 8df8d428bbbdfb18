// What the benchmark programs that link bench/Shared (Capacity, Sessions) all use: the Orleans client host and the grains.
global using Distributed.Bench;
global using Distributed.Grains.Abstractions;
global using Microsoft.Extensions.Configuration;
global using Microsoft.Extensions.DependencyInjection;
