# syntax=docker/dockerfile:1
# Multi-stage build of the Gateway (context: the repository root):
#   docker build -f deploy/docker/Gateway.Dockerfile -t distributed/gateway:dev .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/ src/
COPY samples/ samples/
RUN dotnet publish src/Gateway/Distributed.Gateway.csproj -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app ./
# The .NET images ship an unprivileged user; never run as root.
USER $APP_UID
ENV ASPNETCORE_ENVIRONMENT=Production DOTNET_gcServer=1
EXPOSE 8080 8081
ENTRYPOINT ["dotnet", "Distributed.Gateway.dll"]
