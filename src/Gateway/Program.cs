using Distributed.Gateway;
using Distributed.Gateway.Cluster;
using Distributed.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddDistributedDefaults();
builder.AddClusterClient();
builder.Services.AddSessionBalancing(builder.Configuration);

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapBalancedProxy();
app.Run();
