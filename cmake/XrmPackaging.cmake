# Debian packages (CPack DEB), one pair per architecture the tree is built for:
#   xrm-gateway  xrm-gatewayd, xrmctl, xrm-tap, the systemd unit, conffiles in /etc/xrm-gateway,
#                the Mosquitto snippet, man pages, maintainer scripts (user and group, unit)
#   xrm-devsim   the simulated fleet and its scenarios
# scripts/packages.sh builds all three architectures; by hand: `cpack -G DEB` in a Release tree.
# The architecture comes from the toolchain's multiarch triple, so cross trees (aarch64, armhf)
# make arm64 and armhf packages. Shared-library dependencies come from dpkg-shlibdeps: against the
# host's dpkg for amd64 and arm64 (multiarch), against the sysroot's package database for armhf
# (scripts/sysroot.sh writes one; scripts/packages.sh points DPKG_ADMINDIR at it).
include(GNUInstallDirs)

set(XRM_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/gateway/packaging)
set(XRM_DEB_RELEASE 1)
set(XRM_DEB_VERSION ${PROJECT_VERSION}-${XRM_DEB_RELEASE})

set(_xrm_deb_arch_x86_64-linux-gnu amd64)
set(_xrm_deb_arch_aarch64-linux-gnu arm64)
set(_xrm_deb_arch_arm-linux-gnueabihf armhf)
set(XRM_DEB_ARCH "${_xrm_deb_arch_${CMAKE_LIBRARY_ARCHITECTURE}}")
if(XRM_DEB_ARCH STREQUAL "")
  message(STATUS "Packaging: no Debian architecture for '${CMAKE_LIBRARY_ARCHITECTURE}'; cpack not configured")
  return()
endif()

# Files other than programs. Absolute destinations: Debian's layout, whatever the prefix.
set(_gen ${CMAKE_BINARY_DIR}/packaging)
configure_file(${XRM_PACKAGING_DIR}/mosquitto-xrm-gateway.conf.in ${_gen}/mosquitto/xrm-gateway.conf @ONLY)
configure_file(${XRM_PACKAGING_DIR}/changelog ${_gen}/changelog @ONLY)
execute_process(COMMAND gzip -9n -c ${_gen}/changelog OUTPUT_FILE ${_gen}/changelog.Debian.gz
                RESULT_VARIABLE _gzip_rc)
if(NOT _gzip_rc EQUAL 0)
  message(FATAL_ERROR "gzip of the Debian changelog failed")
endif()

install(FILES ${XRM_PACKAGING_DIR}/gateway.toml ${PROJECT_SOURCE_DIR}/docs/examples/profiles.toml
        DESTINATION /etc/xrm-gateway COMPONENT gateway)
install(FILES ${XRM_PACKAGING_DIR}/xrm-gatewayd.service DESTINATION /lib/systemd/system COMPONENT gateway)
install(FILES ${_gen}/mosquitto/xrm-gateway.conf DESTINATION ${CMAKE_INSTALL_DATADIR}/xrm-gateway/mosquitto
        COMPONENT gateway)
install(FILES ${XRM_PACKAGING_DIR}/copyright ${_gen}/changelog.Debian.gz ${XRM_PACKAGING_DIR}/README.Debian
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/xrm-gateway COMPONENT gateway)
install(FILES ${XRM_PACKAGING_DIR}/copyright ${_gen}/changelog.Debian.gz
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/xrm-devsim COMPONENT devsim)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/firmware/devsim/scenarios/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/xrm-devsim/scenarios COMPONENT devsim FILES_MATCHING PATTERN "*.toml")

# dpkg: conffiles (everything in /etc), maintainer scripts 0755.
file(WRITE ${_gen}/conffiles "/etc/xrm-gateway/gateway.toml\n/etc/xrm-gateway/profiles.toml\n")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME xrm-gateway)
set(CPACK_PACKAGE_VENDOR "XRM developers")
set(CPACK_PACKAGE_CONTACT "XRM developers <dev@xrm.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Each package's first description line is its own synopsis. CPackDeb prepends the project-wide
# summary to every component's description unless the summary is CPack's default, so it is set to
# exactly that default (CPack.cmake's wording) and never shows.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/packages)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL gateway devsim)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${XRM_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${XRM_DEB_ARCH})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "XRM developers <dev@xrm.invalid>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
if(CMAKE_CROSSCOMPILING)
  # The target's libraries, for dpkg-shlibdeps (CMAKE_SYSROOT is empty for multiarch arm64).
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS
      ${CMAKE_SYSROOT}/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} ${CMAKE_SYSROOT}/lib/${CMAKE_LIBRARY_ARCHITECTURE})
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_GATEWAY_PACKAGE_NAME xrm-gateway)
set(CPACK_DEBIAN_GATEWAY_PACKAGE_SECTION net)
# procps: /bin/kill in the unit's ExecReload.
set(CPACK_DEBIAN_GATEWAY_PACKAGE_DEPENDS "adduser, procps")
set(CPACK_DEBIAN_GATEWAY_PACKAGE_RECOMMENDS "mosquitto, mosquitto-clients")
set(CPACK_DEBIAN_GATEWAY_PACKAGE_CONTROL_EXTRA
    ${_gen}/conffiles ${XRM_PACKAGING_DIR}/postinst ${XRM_PACKAGING_DIR}/prerm ${XRM_PACKAGING_DIR}/postrm)
set(CPACK_COMPONENT_GATEWAY_DESCRIPTION
    "XRM edge gateway: connected devices as stakeholders
xrm-gatewayd registers the devices connected to a local Mosquitto broker as
stakeholders of an organisation (owner, site, technician, supplier), judges
the health of each relationship with explainable KPI scores and rules,
escalates by band, and forwards condensed interaction records to the central
XRM over MQTT through a durable SQLite outbox. xrmctl is the technicians'
tool (provisioning, health, ranking); xrm-tap is the reference consumer for
central.")

set(CPACK_DEBIAN_DEVSIM_PACKAGE_NAME xrm-devsim)
set(CPACK_DEBIAN_DEVSIM_PACKAGE_SECTION net)
set(CPACK_DEBIAN_DEVSIM_PACKAGE_SUGGESTS "xrm-gateway")
set(CPACK_COMPONENT_DEVSIM_DESCRIPTION
    "simulated device fleet for the XRM edge gateway
xrm-devsim plays a scenario of devices (telemetry, service events, faults,
losses, silence) against an XRM gateway, each device a real MQTT client with
the credentials xrmctl provisioned. For demonstrations, training and load
tests.")

include(CPack)
