using System.Reflection;

namespace Distributed.Topology;

/// <summary>Where the repository and the built hosts are.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    /// <summary>The folder holding <c>Distributed.sln</c>.</summary>
    public static string Root => LazyRoot.Value;

    /// <summary>The configuration the tests were built with (Debug/Release); the hosts are run from the same.</summary>
    public static string BuildConfiguration { get; } = Metadata("BuildConfiguration") ?? "Debug";

    /// <summary>The target framework of the build (<c>Directory.Build.props</c>), which names the hosts' output folders.</summary>
    public static string TargetFramework { get; } = Metadata("TargetFramework") ?? throw new InvalidOperationException("The build did not record its TargetFramework.");

    /// <summary>The built dll of a host project, e.g. <c>AppDll("src/Silo", "Distributed.Silo")</c>.</summary>
    public static string AppDll(string projectDir, string assemblyName)
    {
        var path = Path.Combine(Root, projectDir, "bin", BuildConfiguration, TargetFramework, assemblyName + ".dll");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{path} does not exist: build the solution first (dotnet build Distributed.sln -c {BuildConfiguration}).", path);
    }

    private static string? Metadata(string key) =>
        typeof(RepoPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value;

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Distributed.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No Distributed.sln above {AppContext.BaseDirectory}.");
    }
}
