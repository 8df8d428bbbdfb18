# syntax=docker/dockerfile:1
# Multi-stage build of the Silo (context: the repository root):
#   docker build -f deploy/docker/Silo.Dockerfile -t distributed/silo:dev .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/ src/
COPY samples/ samples/
RUN dotnet publish src/Silo/Distributed.Silo.csproj -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app ./
# The .NET images ship an unprivileged user; never run as root.
USER $APP_UID
ENV ASPNETCORE_ENVIRONMENT=Production DOTNET_gcServer=1
EXPOSE 8090 11111 30000
ENTRYPOINT ["dotnet", "Distributed.Silo.dll"]
