using Yarp.ReverseProxy.Configuration;

// dotnet Distributed.Bench.PlainYarp.dll --urls http://127.0.0.1:9000 --Destinations http://127.0.0.1:5001,http://127.0.0.1:5002
var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var destinations = (builder.Configuration["Destinations"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
builder.Services.AddReverseProxy().LoadFromMemory(
    [new RouteConfig { RouteId = "all", ClusterId = "backends", Match = new RouteMatch { Path = "/{**catch-all}" } }],
    [new ClusterConfig
    {
        ClusterId = "backends",
        LoadBalancingPolicy = "LeastRequests",
        Destinations = destinations.Select((address, i) => (address, i)).ToDictionary(x => $"b{x.i + 1}", x => new DestinationConfig { Address = x.address }),
    }]);
var app = builder.Build();
app.MapReverseProxy();
app.Run();
