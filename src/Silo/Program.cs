using Distributed.ServiceDefaults;
using Distributed.Silo;

var builder = WebApplication.CreateBuilder(args);
builder.AddDistributedDefaults();
builder.AddDistributedSilo();

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
