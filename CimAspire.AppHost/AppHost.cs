var builder = DistributedApplication.CreateBuilder(args);

var route = builder.AddProject<Projects.CimAspire_Route>("route-api");
builder.AddProject<Projects.CimAspire_ImServer>("im-server");
builder.AddProject<Projects.CimAspire_WebClient>("web-client")
    .WithExternalHttpEndpoints()
    .WithReference(route);

builder.Build().Run();
